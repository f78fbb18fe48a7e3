"""OpenAPI documentation helpers for the governance API (loaded by governance.api.serializers)."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """Document each NamedChoiceField as a named enum component, e.g. FrameworkVersionStatusEnum."""

    target_class = "governance.api.serializers.NamedChoiceField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        choices = field.choices_class
        component = ResolvedComponent(
            name=field.component_name,
            type=ResolvedComponent.SCHEMA,
            object=field.component_name,
            schema={
                "type": "string",
                "enum": list(choices.values),
                "description": "\n".join(f"* `{value}` - {label}" for value, label in choices.choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref
