"""The Excel export: the same columns as the CSV, every cell text, streamed (no temporary file)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable

from intake.workspace.exports import case_row, column_descriptions, layout, neutralise

# Excel cannot hold more in a cell, nor these control characters at all.
XLSX_CELL_LIMIT = 32767
XLSX_CUT_MARK = "…[cut]"


def _xlsx_text(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if len(text) > XLSX_CELL_LIMIT:
        text = text[: XLSX_CELL_LIMIT - len(XLSX_CUT_MARK)] + XLSX_CUT_MARK
    return text


def write_xlsx(out, cases: Iterable) -> None:
    """Write the cases to an Excel workbook: sheet "cases", and sheet "columns" describing them.

    `out` is a binary stream or a path. Every cell is text; none is a formula.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    shape = layout()
    described = [("column", "holds", "values"), *column_descriptions()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        rows = (case_row(case, shape) for case in cases)
        _stream_sheet(archive, workbook.create_sheet("cases"), 1, shape.columns, rows)
        _stream_sheet(archive, workbook.create_sheet("columns"), 2, described[0], described[1:])
        _written_sheets_writer(workbook, archive).save()


def _stream_sheet(archive, sheet, number: int, header, rows) -> None:
    """Write a sheet's XML straight into the archive, row by row.

    openpyxl would first write each sheet, in the clear, to a temporary file:
    the opened answers would then sit on disk (and stay there after a crash),
    which the workspace never allows. Here they go only where `out` is.
    """
    from openpyxl.worksheet._writer import WorksheetWriter

    sheet._id = number  # openpyxl names the part by it: xl/worksheets/sheet<number>.xml
    sheet.freeze_panes = "A2"
    with archive.open(sheet.path[1:], "w", force_zip64=True) as part:
        sheet._writer = WorksheetWriter(sheet, out=part)
        sheet._writer.write_top()
        try:
            sheet.append([_header_cell(sheet, name) for name in header])
            for row in rows:
                sheet.append([_xlsx_text(neutralise(value)) for value in row])
        finally:
            sheet.close()  # also on an error: openpyxl must not write to the part once closed


def _header_cell(sheet, name: str):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cell = WriteOnlyCell(sheet, value=_xlsx_text(name))
    cell.font = Font(bold=True)
    return cell


def _written_sheets_writer(workbook, archive):
    """Return openpyxl's writer for the rest of the workbook, the sheets being written already."""
    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.writer.excel import ExcelWriter

    class WrittenSheets(ExcelWriter):
        def write_worksheet(self, ws):
            ws._drawing = SpreadsheetDrawing()
            ws._drawing.charts, ws._drawing.images = ws._charts, ws._images
            ws._rels = ws._writer._rels
            self.manifest.append(ws)

    return WrittenSheets(workbook, archive)
