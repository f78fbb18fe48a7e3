"""Importers on the real published registers (issue 7): counts, mapped records, idempotency, bad files."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from registry.choices import CommunityRole, LifecycleStage, RegistrationStatus, RiskTier, Technique
from registry.importers import ImportFormatError, importer_class
from registry.importers.csv_mapping import (
    BAD_CHOICE,
    FIELD_TWICE,
    MISSING_REQUIRED,
    NO_ORGANIZATION,
    UNKNOWN_FIELD,
    MappingError,
    validate_mapping,
)
from registry.importers.omb2025 import PURPOSE_NOT_STATED
from registry.models import AISystem, AuditEvent, Organization, Registration, RegistrationVersion
from registry.models.systems import DISCLOSABLE_FIELDS
from tests.factories import CommunityFactory, OrganizationFactory, UserFactory, community_member, filer

pytestmark = pytest.mark.django_db

DATA = Path("/work/shared/data/registers")
OMB_FILE = DATA / "us_omb_2025" / "2025_individually_reported_AI_use_cases.csv"
NL_FILE = DATA / "nl_algoritmeregister" / "algoritmes_snapshot.json"


def run(format_name, data, *, community, actor=None, dry_run=False, **options):
    importer = importer_class(format_name)(community=community, actor=actor, options=options)
    stream = io.BytesIO(data if isinstance(data, bytes) else data.encode())
    return importer.run(stream, dry_run=dry_run).as_dict()


def omb_excerpt(rows=12, edit=None) -> bytes:
    """The real file's header and first `rows` records, optionally edited: edit(list_of_dicts)."""
    with OMB_FILE.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        records = [record for _, record in zip(range(rows), reader, strict=False)]
        fieldnames = reader.fieldnames
    if edit:
        edit(records)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


@pytest.fixture
def community():
    return CommunityFactory(slug="us-federal", name="U.S. federal")


@pytest.fixture
def regulator(community):
    return community_member(community, CommunityRole.REGULATOR, username="importer")


@pytest.mark.slow
class Omb2025ImporterTests:
    def test_the_whole_inventory_with_its_rejected_rows(self, community, regulator):
        report = run("omb-2025", OMB_FILE.read_bytes(), community=community, actor=regulator)

        assert report["total"] == 3611
        assert report["systems_created"] == 3608
        assert report["organizations_created"] == 41
        assert report["registrations_created"] == 3608
        assert [(item["line"], item["reason"][:29]) for item in report["rejected"]] == [
            (1065, "The row has no name."),
            (1502, "Duplicate identifier DOJ-0357"),
            (1665, "Duplicate identifier DOJ-0160"),
        ]
        assert Registration.objects.filter(community=community, status=RegistrationStatus.APPROVED).count() == 3608
        assert (
            Registration.objects.filter(community=community, risk_tier=RiskTier.HIGH).count() == 444
        )  # 445 in the file, one a rejected duplicate
        assert AISystem.objects.filter(lifecycle_stage=LifecycleStage.RETIRED).count() == 314

        system = AISystem.objects.get(external_id="DHS-2705")
        assert system.organization.slug == "department-of-homeland-security"
        assert system.organization.country == "US"
        assert system.name == "Smartphone Information Forensics Triage"
        assert system.lifecycle_stage == LifecycleStage.DEVELOPMENT
        assert system.topic == "Law Enforcement"
        assert system.techniques == [Technique.NATURAL_LANGUAGE_PROCESSING]
        assert system.contact_email == "ai@hq.dhs.gov"
        assert "OMB high-impact determination: High-impact." in system.risks
        registration = system.registrations.get()
        assert registration.risk_tier == RiskTier.HIGH
        assert registration.deployment_context == "Bureau/component: CBP"
        assert registration.reviewer == regulator
        assert registration.versions.get().number == 1

        # Withheld from public reporting: every disclosable field stays withheld, with the agency's reason.
        withheld = Registration.objects.get(system__external_id="DOL-26")
        assert set(withheld.disclosure) == set(DISCLOSABLE_FIELDS)
        assert withheld.disclosure["purpose"] == {
            "level": "withheld",
            "reason": "Withheld from public reporting by the agency: Yes - Prohibited by Law.",
        }
        # A blank purpose gets a placeholder, and the report says so.
        assert AISystem.objects.filter(purpose=PURPOSE_NOT_STATED).count() == 592
        assert sum(item["message"] == "No purpose (problem_solved) given." for item in report["warnings"]) == 592
        # The audit trail names the importer.
        assert AuditEvent.objects.filter(action="system.created", actor=regulator).count() == 3608
        assert AuditEvent.objects.filter(action="registration.created").count() == 3608
        assert AuditEvent.objects.filter(action="organization.created").count() == 41

    def test_importing_the_same_file_again_changes_nothing(self, community, regulator):
        data = OMB_FILE.read_bytes()
        run("omb-2025", data, community=community, actor=regulator)
        events = AuditEvent.objects.count()
        modified = set(AISystem.objects.values_list("id", "updated_at"))

        report = run("omb-2025", data, community=community, actor=regulator)

        assert (report["systems_created"], report["systems_updated"], report["systems_unchanged"]) == (0, 0, 3608)
        assert report["registrations_created"] == 0
        assert AuditEvent.objects.count() == events
        assert set(AISystem.objects.values_list("id", "updated_at")) == modified


class Omb2025ChangesTests:
    def test_a_changed_row_updates_its_system_and_records_the_change(self, community, regulator):
        run("omb-2025", omb_excerpt(), community=community, actor=regulator)

        def edit(records):
            records[0]["use_case_name"] = "Stress Testing Scenarios (renamed)"
            records[3]["is_high_impact"] = "Not High-impact"

        report = run("omb-2025", omb_excerpt(edit=edit), community=community, actor=regulator)

        assert (report["systems_created"], report["systems_updated"], report["systems_unchanged"]) == (0, 2, 10)
        system = AISystem.objects.get(external_id="CFTC-003")
        assert system.name == "Stress Testing Scenarios (renamed)"
        event = AuditEvent.objects.get(action="system.updated", target_id=system.pk)
        assert event.changes["name"] == ["Stress Testing Scenarios with Deep Learning", system.name]
        assert event.actor == regulator
        registration = Registration.objects.get(system__external_id="DHS-2705")
        assert registration.risk_tier == RiskTier.UNASSESSED
        assert AuditEvent.objects.get(action="registration.updated", target_id=registration.pk).changes == {
            "risk_tier": ["high", "unassessed"]
        }
        assert registration.status == RegistrationStatus.APPROVED

    def test_rows_without_an_id_get_a_stable_key(self, community, regulator):
        def edit(records):
            records[0]["id"] = ""
            records[1]["id"] = "TBD"

        first = run("omb-2025", omb_excerpt(edit=edit), community=community, actor=regulator)
        again = run("omb-2025", omb_excerpt(edit=edit), community=community, actor=regulator)

        assert first["systems_created"] == 12 and again["systems_unchanged"] == 12
        keys = sorted(AISystem.objects.filter(external_id__contains="-noid-").values_list("external_id", flat=True))
        assert len(keys) == 2 and all(key.startswith("CFTC-noid-") for key in keys)

    def test_the_compliance_engine_checks_the_imported_registrations_once_the_file_commits(
        self, community, regulator, django_capture_on_commit_callbacks
    ):
        from governance.models import RegistrationCompliance

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            run("omb-2025", omb_excerpt(), community=community, actor=regulator)

        assert len(callbacks) >= 1
        live = Registration.objects.filter(community=community).exclude(
            status__in=[RegistrationStatus.DRAFT, RegistrationStatus.REJECTED, RegistrationStatus.RETIRED]
        )
        assert live.exists()
        checked = RegistrationCompliance.objects.filter(registration__community=community)
        assert set(checked.values_list("registration_id", flat=True)) == set(live.values_list("pk", flat=True))

    def test_a_dry_run_reports_and_writes_nothing(self, community, regulator):
        report = run("omb-2025", omb_excerpt(), community=community, actor=regulator, dry_run=True)

        assert report["systems_created"] == 12 and report["dry_run"] is True
        assert not AISystem.objects.exists()
        assert not Organization.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_a_malformed_file_is_refused_whole(self, community, regulator):
        with pytest.raises(ImportFormatError, match="not UTF-8"):
            run("omb-2025", omb_excerpt() + b"\xff\xfe broken", community=community, actor=regulator)
        assert not AISystem.objects.exists()

    def test_a_file_in_another_format_is_refused(self, community, regulator):
        with pytest.raises(ImportFormatError, match="missing columns"):
            run("omb-2025", NL_FILE.read_bytes(), community=community, actor=regulator)
        with pytest.raises(ImportFormatError, match="not valid JSON"):
            run("nl-algoritmeregister", omb_excerpt(), community=community, actor=regulator)
        assert not AISystem.objects.exists()

    def test_an_error_while_writing_leaves_nothing_behind(self, community, regulator, monkeypatch):
        from registry.importers import base

        def fail(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(base, "version_snapshot", fail)
        with pytest.raises(RuntimeError):
            run("omb-2025", omb_excerpt(), community=community, actor=regulator)
        assert not AISystem.objects.exists()
        assert not Organization.objects.exists()
        assert not AuditEvent.objects.exists()
        assert not RegistrationVersion.objects.exists()

    def test_only_regulators_and_staff_may_import(self, community):
        organization = OrganizationFactory()
        with pytest.raises(PermissionDenied):
            run("omb-2025", omb_excerpt(), community=community, actor=filer(organization))
        other = CommunityFactory()
        with pytest.raises(PermissionDenied):
            run("omb-2025", omb_excerpt(), community=community, actor=community_member(other))
        child = CommunityFactory(parent=community)
        report = run("omb-2025", omb_excerpt(), community=child, actor=community_member(community))
        assert report["systems_created"] == 12
        report = run("omb-2025", omb_excerpt(), community=other, actor=UserFactory(is_staff=True))
        assert report["registrations_created"] == 12


@pytest.mark.slow
class NlAlgoritmeregisterImporterTests:
    def test_the_whole_register_imports_and_again_changes_nothing(self, community, regulator):
        data = NL_FILE.read_bytes()
        report = run("nl-algoritmeregister", data, community=community, actor=regulator)

        assert (report["total"], report["systems_created"], report["rejected_count"]) == (1530, 1530, 0)
        assert report["organizations_created"] == 336
        stages = dict(
            AISystem.objects.values_list("lifecycle_stage").annotate(n=__import__("django").db.models.Count("id"))
        )
        assert stages == {"production": 1392, "development": 73, "retired": 65}
        system = AISystem.objects.get(external_id="11136893")
        assert system.name == "Actonomy AI Matching Systeem"
        assert system.organization.name == "Gemeenschappelijke regeling Regionale ICT-dienst Utrecht"
        assert system.organization.country == "NL"
        assert system.website == "https://algoritmes.overheid.nl/nl/algoritme/11136893"
        assert system.risks == "Impact assessment (IAMA/DPIA) carried out: unknown."
        assert system.lifecycle_stage == LifecycleStage.PRODUCTION

        again = run("nl-algoritmeregister", data, community=community, actor=regulator)
        assert (again["systems_created"], again["systems_updated"], again["systems_unchanged"]) == (0, 0, 1530)

    def test_a_record_without_its_keys_is_rejected_with_its_number(self, community, regulator):
        data = {"algoritmes": [{"id": "1", "title": "A", "organisatie": "Gemeente X", "doel": "d", "status": "x"}, {}]}
        report = run("nl-algoritmeregister", json.dumps(data), community=community, actor=regulator)
        assert report["rejected"] == [{"line": 2, "id": "", "reason": "Record 2 lacks id, title or organisatie."}]
        assert report["warnings"][0]["message"] == "Status 'x' not recognised; recorded as planned."


MAPPING = {
    "organization": {"column": "Department"},
    "id_column": "Ref",
    "columns": {
        "Title": "name",
        "What it does": "purpose",
        "Status": {"field": "lifecycle_stage", "values": {"Live": "production", "Trial": "pilot"}},
        "Tech": {
            "field": "techniques",
            "split": "|",
            "values": {"ML": "machine_learning", "LLM": "large_language_model"},
        },
        "Risk": {"field": "risk_tier", "values": {"High": "high"}, "default": "unassessed"},
        "Since": "start_date",
    },
}
SPREADSHEET = (
    "Ref,Department,Title,What it does,Status,Tech,Risk,Since\n"
    "A-1,Parks,Tree survey,Counts trees from photos,Live,ML|LLM,High,2024-03-01\n"
    "A-2,Parks,Bench finder,Finds benches,Someday,Magic,Low,last spring\n"
    "A-3,Roads,,Nameless,Live,,,\n"
)


class CsvMappingTests:
    def test_a_spreadsheet_imports_through_its_mapping(self, community, regulator):
        report = run("csv", SPREADSHEET, community=community, actor=regulator, mapping=MAPPING)

        assert report["systems_created"] == 2
        assert report["rejected"] == [{"line": 4, "id": "A-3", "reason": "The row has no name."}]
        tree = AISystem.objects.get(external_id="A-1")
        assert tree.organization.slug == "parks"
        assert tree.lifecycle_stage == LifecycleStage.PRODUCTION
        assert tree.techniques == ["machine_learning", "large_language_model"]
        assert str(tree.start_date) == "2024-03-01"
        assert tree.registrations.get().risk_tier == RiskTier.HIGH
        bench = AISystem.objects.get(external_id="A-2")
        assert bench.lifecycle_stage == LifecycleStage.PLANNED
        assert bench.registrations.get().risk_tier == RiskTier.UNASSESSED
        messages = [item["message"] for item in report["warnings"] if item["line"] == 3]
        assert messages == [
            "Status: 'Someday' not recognised.",
            "Tech: 'Magic' not recognised; not imported.",
            "Risk: 'Low' not recognised.",
            "Since: 'last spring' is not a date; not imported.",
        ]
        again = run("csv", SPREADSHEET, community=community, actor=regulator, mapping=MAPPING)
        assert again["systems_unchanged"] == 2

    def test_the_mapping_is_validated(self):
        bad = {
            "organization": {"column": ""},
            "id_column": "Ref",
            "columns": {
                "Title": "name",
                "Other title": "name",
                "Colour": "colour",
                "Status": {"field": "lifecycle_stage", "values": {"Live": "running"}},
            },
        }
        with pytest.raises(MappingError) as caught:
            validate_mapping(bad)
        assert caught.value.messages == [
            str(NO_ORGANIZATION),
            str(FIELD_TWICE % {"field": "name"}),
            str(UNKNOWN_FIELD % {"column": "Colour", "field": "colour"}),
            str(
                BAD_CHOICE
                % {
                    "column": "Status",
                    "value": "running",
                    "field": "lifecycle_stage",
                    "allowed": "planned, development, pilot, production, retired",
                }
            ),
            str(MISSING_REQUIRED % {"fields": "purpose"}),
        ]
        with pytest.raises(MappingError, match="must be a JSON object"):
            validate_mapping(["name"])
        assert validate_mapping(MAPPING)["columns"]["Title"] == {
            "field": "name",
            "values": {},
            "default": None,
            "split": ";",
        }

    def test_a_file_without_the_mapped_columns_is_refused(self, community, regulator):
        with pytest.raises(ImportFormatError, match="lacks the mapped columns"):
            run("csv", "Ref,Title\n1,x\n", community=community, actor=regulator, mapping=MAPPING)


class ImportCommandTests:
    def test_the_command_imports_and_reports(self, community, tmp_path):
        path = tmp_path / "omb.csv"
        path.write_bytes(omb_excerpt())
        out = io.StringIO()
        call_command("import_register", str(path), format="omb-2025", community="us-federal", stdout=out, verbosity=0)
        assert out.getvalue().startswith("12 rows: 12 systems created, 0 updated, 0 unchanged, 0 rejected;")
        out = io.StringIO()
        call_command("import_register", str(path), "--dry-run", format="omb-2025", community="us-federal", stdout=out)
        assert out.getvalue().startswith("Dry run: 12 rows: 0 systems created, 0 updated, 12 unchanged")

    def test_the_command_refuses_a_wrong_file_and_an_unknown_community(self, community, tmp_path):
        path = tmp_path / "x.json"
        path.write_text("{}")
        with pytest.raises(CommandError, match="missing columns"):
            call_command("import_register", str(path), format="omb-2025", community="us-federal", verbosity=0)
        with pytest.raises(CommandError, match="No community"):
            call_command("import_register", str(path), format="omb-2025", community="nowhere", verbosity=0)
        with pytest.raises(CommandError, match="needs --mapping"):
            call_command("import_register", str(path), format="csv", community="us-federal", verbosity=0)
