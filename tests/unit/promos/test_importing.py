"""Marketers import promos from CSV or YAML and see every problem by row and field."""

from __future__ import annotations

from datetime import date

from sync.promos.importing import parse_promo_file

HEADER = "key,name,description,condition,code,coupons,starts_on,ends_on\n"


def fields_in_error(data: str, filename: str = "promos.csv") -> list[tuple[int, str]]:
    parsed = parse_promo_file(data.encode(), filename=filename)
    return [(error.row, error.field) for error in parsed.errors]


class TestCsv:
    def test_valid_csv_gives_promos_with_pools_and_dates(self) -> None:
        """A well-formed CSV yields each promo with its condition, dates and coupon pool."""
        data = HEADER + (
            'spring,Spring,10% off,"utm_campaign == ""spring""",SPRING10,,2026-03-01,2026-05-31\n'
            "vip,VIP,,,,A1 A2|A3,01.06.2026,\n"
        )
        parsed = parse_promo_file(data.encode(), filename="promos.csv")
        assert parsed.ok, [e.render("en") for e in parsed.errors]
        spring, vip = parsed.definitions
        assert spring.promo.condition == 'utm_campaign == "spring"'
        assert spring.promo.shared_code == "SPRING10" and not spring.promo.uses_coupon_pool
        assert spring.promo.ends_on == date(2026, 5, 31)
        assert vip.coupon_codes == ("A1", "A2", "A3") and vip.promo.uses_coupon_pool
        assert vip.promo.starts_on == date(2026, 6, 1)

    def test_cp1251_semicolon_csv_from_russian_excel_is_read(self) -> None:
        """A CSV saved by Russian Excel (cp1251, `;`) imports with its Cyrillic names intact."""
        data = "name;description;ends_on\nВесенняя акция;Скидка 10%;31.05.2026\n".encode("cp1251")
        parsed = parse_promo_file(data, filename="акции.csv")
        assert parsed.ok
        assert parsed.definitions[0].promo.name == "Весенняя акция"
        assert parsed.definitions[0].promo.description == "Скидка 10%"

    def test_bad_dates_are_reported_by_row_and_field(self) -> None:
        """An impossible date and an end before the start are each reported on their row."""
        data = HEADER + "a,A,,,,,2026-02-30,\nb,B,,,,,2026-05-02,2026-05-01\n"
        assert fields_in_error(data) == [(2, "starts_on"), (3, "ends_on")]

    def test_duplicate_codes_and_keys_are_reported_with_the_earlier_row(self) -> None:
        """A code or key used twice is an error on the second row, naming the first."""
        data = HEADER + "a,A,,,,X1 X2,,\nb,B,,,X2,,,\na,A again,,,,X3,,\nc,C,,,,X4 X4,,\n"
        parsed = parse_promo_file(data.encode(), filename="p.csv")
        assert [(e.row, e.field) for e in parsed.errors] == [(3, "code"), (4, "key"), (5, "coupons")]
        assert "row 2" in parsed.errors[0].render("en")
        assert "строка 3" in parsed.errors[0].render("ru")

    def test_invalid_condition_and_missing_name_are_reported(self) -> None:
        """A broken condition and an empty name are caught before anything is stored."""
        data = HEADER + 'a,,,,,,,\nb,B,,"channel ==",,,,\n'
        assert fields_in_error(data) == [(2, "name"), (3, "condition")]

    def test_unknown_column_is_reported(self) -> None:
        """A misspelt column is an error rather than silently ignored data."""
        assert fields_in_error("name,ends\nA,2026-01-01\n") == [(2, "ends")]


class TestYaml:
    def test_yaml_list_with_coupon_list_is_read(self) -> None:
        """A YAML file lists promos with their coupons as a list and dates as YAML dates."""
        data = """
promos:
  - key: spring
    name: Spring
    condition: channel == "ads"
    coupons: [S1, S2]
    ends_on: 2026-05-31
"""
        parsed = parse_promo_file(data.encode(), filename="promos.yaml")
        assert parsed.ok
        assert parsed.definitions[0].coupon_codes == ("S1", "S2")
        assert parsed.definitions[0].promo.ends_on == date(2026, 5, 31)

    def test_yaml_item_that_is_not_a_mapping_is_reported(self) -> None:
        """A stray scalar in the YAML list is reported with its item number."""
        data = "- name: A\n- just text\n"
        assert fields_in_error(data, "p.yml") == [(2, "-")]

    def test_broken_yaml_is_refused(self) -> None:
        """Unparseable YAML is one clear error, not a crash."""
        parsed = parse_promo_file(b"- name: [A\n", filename="p.yaml")
        assert not parsed.ok and not parsed.definitions


class TestFormat:
    def test_unknown_extension_is_refused(self) -> None:
        """Only CSV and YAML are accepted."""
        parsed = parse_promo_file(b"name\nA\n", filename="promos.xlsx")
        assert not parsed.ok
        assert ".csv" in parsed.errors[0].render("en")


class TestDemoFiles:
    def test_demo_promos_and_attendees_files_are_valid(self) -> None:
        """The demo's promo file imports cleanly and its cp1251 attendee list is readable."""
        from pathlib import Path

        from sync.promos.events import read_attendee_csv

        demo = Path(__file__).resolve().parents[3] / "sync" / "promos" / "demo"
        parsed = parse_promo_file((demo / "promos.yaml").read_bytes(), filename="promos.yaml")
        assert parsed.ok, [e.render("en") for e in parsed.errors]
        assert {d.promo.key for d in parsed.definitions} == {
            "brand-search-10",
            "hot-personal",
            "autumn-retarget",
        }
        attendees = read_attendee_csv((demo / "attendees.csv").read_bytes())
        assert attendees.encoding == "cp1251" and len(attendees.attendees) == 3
