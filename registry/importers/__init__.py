"""Bulk import of published registers into a community's register (issue 7). See docs/imports.md."""

from .base import ImportFormatError, ImportReport, can_import


def importer_class(format_name: str):
    from .csv_mapping import CsvMappingImporter
    from .nl_algoritmeregister import NlAlgoritmeregisterImporter
    from .omb2025 import Omb2025Importer
    from .registry_json import RegistryJsonImporter

    return {
        cls.format_name: cls
        for cls in (Omb2025Importer, NlAlgoritmeregisterImporter, CsvMappingImporter, RegistryJsonImporter)
    }[format_name]


FORMATS = ("omb-2025", "nl-algoritmeregister", "csv", "json")

__all__ = ["FORMATS", "ImportFormatError", "ImportReport", "can_import", "importer_class"]
