"""The form editor writes its common changes into the rule file itself, line by line."""

from __future__ import annotations

import difflib
from dataclasses import replace

from rules import default_rules_text, load_ruleset
from rules.form import ChannelForm, FormValues, ValueList, apply_form, form_values


class TestFormEditor:
    def test_form_reads_the_files_thresholds_minimum_and_norm(self) -> None:
        """The form opens with the file's budget_min, decision horizon, BANT minimum and the qualified norm."""
        values = form_values(default_rules_text())
        assert values.params == {"decision_horizon": "6 months", "budget_min": "100000"}
        assert (values.min_met, values.qualified_share) == (3, 0.5)

    def test_changing_budget_min_changes_only_that_line(self) -> None:
        """Lowering budget_min to 50000 changes one line of the file; comments and everything else stay."""
        original = default_rules_text()
        changed = apply_form(
            original, FormValues(params={"budget_min": "50000", "decision_horizon": "6 months"})
        )
        before, after = original.splitlines(), changed.splitlines()
        differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert differing == [("  budget_min: 100000", "  budget_min: 50000")]

    def test_minimum_met_and_norm_are_written_in_their_sections(self) -> None:
        """BANT's minimum goes to `qualified.min_met` and the norm to `norms.qualified_share`, not elsewhere."""
        changed = apply_form(default_rules_text(), FormValues(min_met=2, qualified_share=0.3))
        values = form_values(changed)
        assert (values.min_met, values.qualified_share) == (2, 0.3)
        assert changed.count("min_met: 2") == 1 and "qualified_share: 0.3" in changed

    def test_unknown_threshold_is_not_invented(self) -> None:
        """A threshold the file does not have is not added by the form (new ones go through the YAML editor)."""
        assert apply_form(default_rules_text(), FormValues(params={"nope": "1"})) == default_rules_text()


class TestChannelsInTheForm:
    def _channels(self, text: str) -> dict[str, ChannelForm]:
        return {channel.name: channel for channel in form_values(text, "en").channels or ()}

    def test_the_form_shows_each_channels_value_lists_and_flag(self) -> None:
        channels = self._channels(default_rules_text())
        assert channels["yandex_direct"].title == "Yandex Direct"
        assert channels["yandex_direct"].lists == (
            ValueList("utm_source", ("yandex", "ya", "yandex_direct")),
            ValueList("utm_medium", ("cpc", "ppc", "paid")),
        )
        assert channels["tiktok"].experimental and not channels["vk"].experimental

    def test_a_new_source_and_the_experimental_flag_change_only_their_lines(self) -> None:
        """Adding `dzen` to VK's sources rewrites that one list; marking VK experimental adds one line after its
        title; unmarking TikTok flips its line. Every other line, comments included, stays byte for byte, and
        the file still loads and reads back as sent."""
        original = default_rules_text()
        channels = self._channels(original)
        vk = replace(
            channels["vk"],
            lists=(ValueList("utm_source", ("vk", "vkontakte", "vk_ads", "dzen")),),
            experimental=True,
        )
        tiktok = replace(channels["tiktok"], experimental=False)
        changed = apply_form(
            original, FormValues(channels=tuple({**channels, "vk": vk, "tiktok": tiktok}.values()))
        )
        diff = [
            line
            for line in difflib.unified_diff(original.splitlines(), changed.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        assert sorted(diff) == sorted(
            [
                "+    experimental: true",
                "-    when: {field: utm_source, in: [vk, vkontakte, vk_ads]}",
                "+    when: {field: utm_source, in: [vk, vkontakte, vk_ads, dzen]}",
                "-    experimental: true",
                "+    experimental: false",
            ]
        )
        lines = changed.splitlines()
        assert lines[lines.index("    title: {ru: ВКонтакте, en: VK}") + 1] == "    experimental: true"
        assert len(lines) == len(original.splitlines()) + 1
        load_ruleset(changed)
        back = self._channels(changed)
        assert back["vk"] == vk and not back["tiktok"].experimental

    def test_values_yaml_would_misread_are_quoted(self) -> None:
        """A value with a comma, colon or quote is written quoted, so the file reads it back unchanged."""
        original = default_rules_text()
        channels = self._channels(original)
        odd = ("vk", "a, b", "x: y", "it's", "#tag")
        vk = replace(channels["vk"], lists=(ValueList("utm_source", odd),))
        changed = apply_form(original, FormValues(channels=tuple({**channels, "vk": vk}.values())))
        assert self._channels(changed)["vk"].lists[0].values == odd

    def test_unchanged_channels_leave_the_file_alone(self) -> None:
        original = default_rules_text()
        assert apply_form(original, FormValues(channels=form_values(original).channels)) == original
