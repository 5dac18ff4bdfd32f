//! DuckDB (the `duckdb` PyPI package, pinned by `.ci/tools/duckdb.sh`) as a
//! consumer of the archive written by others: a Python script run with the
//! cached virtualenv's interpreter, its answer on stdout.
//!
//! The interpreter is `$DUCKDB_PYTHON`, else
//! `$LAREDO_TOOLS_DIR/duckdb/bin/python` (default `~/.cache/laredo-tools`);
//! install it with `bash .ci/tools/duckdb.sh` (`bash .ci/test` does).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python interpreter that has `duckdb` and its `httpfs` extension.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("DUCKDB_PYTHON") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("LAREDO_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/laredo-tools")));
    if let Some(candidate) = tools.map(|dir| dir.join("duckdb/bin/python"))
        && candidate.is_file()
    {
        return candidate;
    }
    panic!(
        "DuckDB not found ($DUCKDB_PYTHON, $LAREDO_TOOLS_DIR/duckdb/bin/python): \
         install it with `bash .ci/tools/duckdb.sh` (or run the tests with `bash .ci/test`)"
    );
}

/// What every script starts with: a connection `c`, with `httpfs` loaded
/// from the pip package (DuckDB cannot download extensions offline) when
/// `S3_ENDPOINT` is set, pointed at it with the test identity.
const PRELUDE: &str = r#"
import glob, json, os, site, sys
import duckdb

c = duckdb.connect()
if os.environ.get("S3_ENDPOINT"):
    found = [
        path
        for root in site.getsitepackages()
        for path in glob.glob(root + "/duckdb_ext/extensions/v*/*/httpfs.duckdb_extension")
    ]
    if not found:
        sys.exit("the duckdb-ext-httpfs package is not installed")
    c.execute(f"LOAD '{found[0]}'")
    c.execute(f"SET s3_endpoint = '{os.environ['S3_ENDPOINT']}'")
    c.execute("SET s3_url_style = 'path'")
    c.execute("SET s3_use_ssl = false")
    c.execute("SET s3_region = 'us-east-1'")
    c.execute(f"SET s3_access_key_id = '{os.environ['S3_ACCESS_KEY_ID']}'")
    c.execute("SET s3_secret_access_key = 'secret'")
"#;

/// Runs `script` (after [`PRELUDE`]) with `args` in `sys.argv[1:]` and
/// `env`; its stdout, or a panic with its stderr.
pub fn run(script: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let output = Command::new(python())
        .arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run DuckDB's Python: {e}"));
    assert!(
        output.status.success(),
        "DuckDB script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("DuckDB prints UTF-8")
}

/// Runs the README's head-of-table query (the SQL block after
/// `<!-- duckdb-head-query -->`) on the archive at `archive` and compares
/// its rows with `read_output` (what `snapshot-writer read` printed),
/// reading that with the query's column types: BLOB and LIST columns are
/// compared in the text `read` prints them in. Prints
/// `{"rows": N, "missing": M, "extra": E, "types": {column: type}}`.
const HEAD_QUERY_CHECK: &str = r#"
import re
readme, archive, expected = sys.argv[1:4]
text = open(readme).read()
sql = text.split("<!-- duckdb-head-query -->")[1].split("```sql")[1].split("```")[0]
sql = re.sub(r"SET VARIABLE archive = '[^']*'", f"SET VARIABLE archive = '{archive}'", sql)
statements = [s for s in sql.split(";") if s.strip()]
for statement in statements[:-1]:
    c.execute(statement)
c.execute("CREATE TABLE head AS " + statements[-1])
columns = c.execute("SELECT column_name, column_type FROM (DESCRIBE head)").fetchall()

def as_read_prints(name, kind):
    quoted = '"' + name + '"'
    if kind == "BLOB":
        return "'\\x' || lower(hex(" + quoted + "))"
    if kind.endswith("[]"):
        element = (
            "CASE WHEN e IS NULL THEN 'NULL' "
            "WHEN e::VARCHAR = '' OR upper(e::VARCHAR) = 'NULL' OR regexp_matches(e::VARCHAR, '[{},\"\\\\\\s]') "
            "THEN '\"' || replace(replace(e::VARCHAR, '\\', '\\\\'), '\"', '\\\"') || '\"' "
            "ELSE e::VARCHAR END"
        )
        return "'{' || array_to_string(list_transform(" + quoted + ", e -> " + element + "), ',') || '}'"
    return quoted

def read_type(kind):
    return "VARCHAR" if kind == "BLOB" or kind.endswith("[]") else kind

select = ", ".join(as_read_prints(n, k) + ' AS "' + n + '"' for n, k in columns)
c.execute("CREATE TABLE got AS SELECT " + select + " FROM head")
spec = "{" + ", ".join("'" + n + "': '" + read_type(k) + "'" for n, k in columns) + "}"
c.execute(f"CREATE TABLE want AS SELECT * FROM read_json('{expected}', format = 'newline_delimited', columns = {spec})")
missing = c.execute("SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got)").fetchone()[0]
extra = c.execute("SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want)").fetchone()[0]
rows = c.execute("SELECT count(*) FROM head").fetchone()[0]
print(json.dumps({"rows": rows, "missing": missing, "extra": extra, "types": dict(columns)}))
"#;

/// What [`check_head_query`] found.
#[derive(Debug, serde::Deserialize)]
pub struct HeadQuery {
    /// Rows the query returned.
    pub rows: usize,
    /// Rows `read` printed that the query did not return.
    pub missing: usize,
    /// Rows the query returned that `read` did not print.
    pub extra: usize,
    /// The query's column types, by column.
    pub types: std::collections::BTreeMap<String, String>,
}

/// Runs the README's head-of-table query on `archive` (a directory path
/// ending in `/`, or an `s3://` prefix ending in `/`) and compares it
/// with `read_output`, the JSONL `snapshot-writer read` printed.
pub fn check_head_query(archive: &str, read_output: &Path, env: &[(&str, String)]) -> HeadQuery {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let out = run(
        HEAD_QUERY_CHECK,
        &[
            readme.to_str().expect("UTF-8 path"),
            archive,
            read_output.to_str().expect("UTF-8 path"),
        ],
        env,
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The column types DuckDB reads each Parquet file under `dir` with, by
/// file name relative to `dir`: `{file: {column: type}}`. Every value of
/// every file is decoded too.
pub fn file_types(
    dir: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let script = r#"
root = sys.argv[1]
found = {}
for path in sorted(glob.glob(root + "/**/*.parquet", recursive=True)):
    # Every row turned into text: every value decoded, in DuckDB.
    source = f"read_parquet('{path}', hive_partitioning = false)"
    c.execute(f"SELECT md5(string_agg(t::VARCHAR, '')) FROM {source} t").fetchall()
    rows = c.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    found[path[len(root) + 1:]] = {name: kind for name, kind, *_ in rows}
print(json.dumps(found))
"#;
    let out = run(script, &[dir.to_str().expect("UTF-8 path")], &[]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}
