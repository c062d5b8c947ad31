"""Reading the spreadsheets marketers and event teams export: UTF-8 or cp1251, comma or semicolon.

amoCRM's Russian users export CSV from Excel, which writes cp1251 with `;` separators; others send UTF-8
(often with a BOM) and commas. Both must read correctly, or be refused with a message saying why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from integration.i18n import Text

NOT_TEXT = Text(
    ru="Файл не похож на текстовый CSV (ни UTF-8, ни Windows-1251). Сохраните его как «CSV UTF-8».",
    en="The file is not a text CSV (neither UTF-8 nor Windows-1251). Save it as “CSV UTF-8”.",
)
EMPTY_FILE = Text(ru="Файл пуст: нет строки заголовков.", en="The file is empty: no header row.")


class TableError(ValueError):
    """The whole file cannot be read; `text` says why in both languages."""

    def __init__(self, text: Text, **params: object) -> None:
        super().__init__(text("en", **params))
        self.text = text
        self.params = params

    def message(self, lang: str = "ru") -> str:
        return self.text("ru" if lang == "ru" else "en", **self.params)


@dataclass(frozen=True, slots=True)
class Table:
    """Rows keyed by normalised header; `line` of each row is its line number in the file (header = 1)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]
    encoding: str
    delimiter: str


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (with or without BOM) first, then cp1251."""
    if b"\x00" in data[:4096]:
        raise TableError(NOT_TEXT)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "cp1251"
    except UnicodeDecodeError:
        raise TableError(NOT_TEXT) from None


def guess_delimiter(header_line: str) -> str:
    """The separator the header uses most: `;` (Russian Excel), `,` or a tab."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def normalise_header(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace(" ", "_").replace("-", "_")


def read_table(data: bytes) -> Table:
    text, encoding = decode_text(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise TableError(EMPTY_FILE)
    delimiter = guess_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: tuple[str, ...] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if headers is None:
            headers = tuple(normalise_header(cell) for cell in cells)
            continue
        record = {header: (cells[i].strip() if i < len(cells) else "") for i, header in enumerate(headers)}
        rows.append((reader.line_num, record))
    if headers is None:
        raise TableError(EMPTY_FILE)
    return Table(headers=headers, rows=tuple(rows), encoding=encoding, delimiter=delimiter)
