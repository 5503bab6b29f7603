/* The XLSX anchor for .ci/bench-exports: the appointments the engine exports, read with SQLite's C
 * API and written by libxlsxwriter (C, Debian's libxlsxwriter-dev) in constant-memory mode, as the
 * engine writes them: ids as text, instants as dates, numbers as numbers, a bold frozen header.
 *
 *   cc -O2 -o bench_libxlsxwriter .ci/bench_libxlsxwriter.c -lxlsxwriter -lsqlite3
 *   bench_libxlsxwriter DATABASE ORG_HEX OUT.xlsx
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <xlsxwriter.h>

static const char *COLUMNS[] = {"id", "client_id", "staff_id", "starts_at", "duration_minutes",
                                "appointment_type", "status", "notes"};
enum { WIDTH = sizeof COLUMNS / sizeof *COLUMNS };

static void fail(const char *what, const char *why) {
    fprintf(stderr, "bench_libxlsxwriter: %s: %s\n", what, why);
    exit(1);
}

/* A 16-byte UUID as its 36-character lowercase text. */
static void uuid_text(const unsigned char *bytes, char out[37]) {
    static const char HEX[] = "0123456789abcdef";
    int at = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
        out[at++] = HEX[bytes[i] >> 4];
        out[at++] = HEX[bytes[i] & 15];
    }
    out[at] = '\0';
}

int main(int argc, char **argv) {
    if (argc != 4) fail("usage", "bench_libxlsxwriter DATABASE ORG_HEX OUT.xlsx");
    sqlite3 *db;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail(argv[1], sqlite3_errmsg(db));
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, client_id, staff_id, starts_at, duration_minutes, appointment_type, status, "
             "notes FROM appointments WHERE organization_id = X'%s' ORDER BY id",
             argv[2]);
    sqlite3_stmt *rows;
    if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) fail("query", sqlite3_errmsg(db));

    lxw_workbook_options options = {.constant_memory = LXW_TRUE};
    lxw_workbook *workbook = workbook_new_opt(argv[3], &options);
    lxw_worksheet *sheet = workbook_add_worksheet(workbook, "appointments");
    lxw_format *bold = workbook_add_format(workbook);
    format_set_bold(bold);
    lxw_format *instant = workbook_add_format(workbook);
    format_set_num_format(instant, "yyyy-mm-dd hh:mm:ss");
    for (int col = 0; col < WIDTH; col++) worksheet_write_string(sheet, 0, col, COLUMNS[col], bold);
    worksheet_freeze_panes(sheet, 1, 0);

    char id[37];
    lxw_row_t row = 1;
    while (sqlite3_step(rows) == SQLITE_ROW) {
        for (int col = 0; col < 3; col++) {
            uuid_text(sqlite3_column_blob(rows, col), id);
            worksheet_write_string(sheet, row, col, id, NULL);
        }
        lxw_datetime at = {0};
        if (sscanf((const char *)sqlite3_column_text(rows, 3), "%d-%d-%dT%d:%d:%lf", &at.year,
                   &at.month, &at.day, &at.hour, &at.min, &at.sec) != 6)
            fail("starts_at", "not an RFC 3339 instant");
        worksheet_write_datetime(sheet, row, 3, &at, instant);
        worksheet_write_number(sheet, row, 4, sqlite3_column_int64(rows, 4), NULL);
        for (int col = 5; col < WIDTH; col++) {
            const unsigned char *text = sqlite3_column_text(rows, col);
            if (text) worksheet_write_string(sheet, row, col, (const char *)text, NULL);
        }
        row++;
    }
    sqlite3_finalize(rows);
    sqlite3_close(db);
    if (workbook_close(workbook) != LXW_NO_ERROR) fail(argv[3], "cannot write the workbook");
    return 0;
}
