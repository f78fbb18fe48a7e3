from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from governance.choices import Binding, VersionStatus
from governance.models import Framework, Requirement

pytestmark = pytest.mark.django_db


class LoadBaselinesTests:
    def test_loads_the_shipped_baselines_once(self):
        call_command("load_baselines", stdout=StringIO())
        out = StringIO()
        call_command("load_baselines", stdout=out)

        frameworks = {f.urn: f for f in Framework.objects.all()}
        assert frameworks["urn:commons:baseline:eu-ai-act"].binding == Binding.MANDATORY
        assert frameworks["urn:commons:baseline:nist-ai-rmf"].binding == Binding.MANDATORY
        assert frameworks["urn:commons:baseline:oecd-ai-principles"].binding == Binding.INFORMATIVE
        assert all(f.builtin and f.community_id is None for f in frameworks.values())
        nist = Requirement.objects.filter(version__framework__urn="urn:commons:baseline:nist-ai-rmf")
        assert nist.filter(parent__isnull=True).count() == 4  # functions
        assert nist.filter(parent__parent__isnull=True, parent__isnull=False).count() == 19  # categories
        assert nist.filter(parent__parent__isnull=False).count() == 72  # subcategories
        assert all(
            f.versions.get().status == VersionStatus.PUBLISHED and len(f.versions.get().content_hash) == 64
            for f in frameworks.values()
        )
        assert out.getvalue().count("already present") == 3

    def test_a_broken_file_is_refused_with_a_message(self, tmp_path):
        bad = tmp_path / "bad.json"
        bad.write_text(
            '{"format": "commons-registry/framework-version@1", "urn": "urn:x", "name": "X", '
            '"version": "1", "requirements": [{"code": "A", "title": "A", "check": "system.nme == 1"}]}'
        )
        with pytest.raises(CommandError, match="'system' has no field 'nme'"):
            call_command("load_baselines", str(bad), stdout=StringIO())
        assert not Framework.objects.filter(urn="urn:x").exists()
