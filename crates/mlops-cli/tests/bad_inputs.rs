//! The bad-input catalogue of the `mlops` command (issue 8): missing and malformed files, bad
//! flags, hostile model/alias names and unknown versions. Each case names the exit code (0
//! success, 1 failure, 2 usage error) and what stderr must name; after every case the registry
//! directory holds exactly the same files and bytes, and no output file was created.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mlops(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .output()
        .unwrap()
}

struct Fx {
    dir: PathBuf,
}

impl Fx {
    fn p(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
    fn reg(&self) -> String {
        self.p("reg")
    }
    /// `serve m@champion --registry <reg>` followed by `extra`.
    fn serve(&self, extra: &[&str]) -> Vec<String> {
        let mut args = strings(&["serve", "m@champion", "--registry", &self.reg()]);
        args.extend(strings(extra));
        args
    }
}

fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

fn train_as(fx: &Fx, name: &str, alias: Option<&str>, registry: &str) -> Vec<String> {
    let mut a = strings(&[
        "train",
        "--data",
        &fx.p("data.csv"),
        "--target",
        "churned",
        "--positive",
        "yes",
        "--model",
        "logistic",
        "--registry",
        registry,
        "--name",
        name,
    ]);
    if let Some(alias) = alias {
        a.push("--alias".into());
        a.push(alias.into());
    }
    a
}

struct Case {
    name: &'static str,
    args: fn(&Fx) -> Vec<String>,
    code: i32,
    /// Substrings stderr must contain.
    stderr: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        // ---- usage errors: exit 2 -------------------------------------------------------------
        Case {
            name: "no arguments",
            args: |_| vec![],
            code: 2,
            stderr: &["Usage"],
        },
        Case {
            name: "unknown subcommand",
            args: |_| strings(&["data", "explode"]),
            code: 2,
            stderr: &["explode"],
        },
        Case {
            name: "unknown flag",
            args: |fx| strings(&["data", "profile", "--bogus", &fx.p("data.csv")]),
            code: 2,
            stderr: &["--bogus"],
        },
        Case {
            name: "serve limit of zero",
            args: |fx| fx.serve(&["--max-in-flight", "0"]),
            code: 2,
            stderr: &["--max-in-flight", "0"],
        },
        Case {
            name: "number flag given text",
            args: |fx| strings(&["data", "generate", "--rows", "abc", &fx.p("out.csv")]),
            code: 2,
            stderr: &["abc", "--rows"],
        },
        Case {
            name: "negative number flag",
            args: |fx| strings(&["data", "generate", "--rows", "-5", &fx.p("out.csv")]),
            code: 2,
            stderr: &["-5"],
        },
        Case {
            name: "required flags missing",
            args: |_| strings(&["train", "--name", "m"]),
            code: 2,
            stderr: &["--data"],
        },
        Case {
            name: "unknown model family",
            args: |fx| {
                let mut a = train_as(fx, "m", None, &fx.reg());
                let i = a.iter().position(|x| x == "logistic").unwrap();
                a[i] = "forest".into();
                a
            },
            code: 2,
            stderr: &["forest"],
        },
        // ---- files: exit 1 --------------------------------------------------------------------
        Case {
            name: "missing data file",
            args: |fx| strings(&["data", "profile", &fx.p("nope.csv")]),
            code: 1,
            stderr: &["nope.csv"],
        },
        Case {
            name: "empty CSV",
            args: |fx| strings(&["data", "profile", &fx.p("empty.csv")]),
            code: 1,
            stderr: &["empty table", "empty.csv"],
        },
        Case {
            name: "header-only CSV",
            args: |fx| strings(&["data", "fingerprint", &fx.p("header.csv")]),
            code: 1,
            stderr: &["empty table", "header.csv"],
        },
        Case {
            name: "non-UTF-8 CSV",
            args: |fx| strings(&["data", "validate", &fx.p("latin1.csv")]),
            code: 1,
            stderr: &["malformed CSV", "latin1.csv", "row 2"],
        },
        Case {
            name: "truncated Parquet",
            args: |fx| strings(&["data", "profile", &fx.p("cut.parquet")]),
            code: 1,
            stderr: &["parquet", "cut.parquet"],
        },
        Case {
            name: "unknown file extension",
            args: |fx| strings(&["data", "profile", &fx.p("table.txt")]),
            code: 1,
            stderr: &["unsupported file format", "table.txt"],
        },
        Case {
            name: "schema file that is not JSON",
            args: |fx| {
                strings(&[
                    "data",
                    "validate",
                    &fx.p("data.csv"),
                    "--schema",
                    &fx.p("garbage.json"),
                ])
            },
            code: 1,
            stderr: &["error:"],
        },
        Case {
            name: "training on a missing file",
            args: |fx| {
                let mut a = train_as(fx, "m", None, &fx.reg());
                let i = a.iter().position(|x| x.ends_with("data.csv")).unwrap();
                a[i] = fx.p("nope.csv");
                a
            },
            code: 1,
            stderr: &["nope.csv"],
        },
        Case {
            name: "training on a target that does not exist",
            args: |fx| {
                let mut a = train_as(fx, "m", None, &fx.reg());
                let i = a.iter().position(|x| x == "churned").unwrap();
                a[i] = "nope".into();
                a
            },
            code: 1,
            stderr: &["nope", "churned"],
        },
        // ---- hostile names: exit 1, registry unchanged -----------------------------------------
        Case {
            name: "model name ../evil",
            args: |fx| train_as(fx, "../evil", None, &fx.reg()),
            code: 1,
            stderr: &["invalid model name", "../evil"],
        },
        Case {
            name: "model name a/../../b",
            args: |fx| train_as(fx, "a/../../b", None, &fx.reg()),
            code: 1,
            stderr: &["invalid model name"],
        },
        Case {
            name: "absolute model name",
            args: |fx| train_as(fx, "/etc/passwd", None, &fx.reg()),
            code: 1,
            stderr: &["invalid model name", "path separator"],
        },
        Case {
            name: "empty model name",
            args: |fx| train_as(fx, "", None, &fx.reg()),
            code: 1,
            stderr: &["invalid model name", "empty"],
        },
        Case {
            name: "model name of 300 bytes",
            args: |fx| train_as(fx, &"m".repeat(300), None, &fx.reg()),
            code: 1,
            stderr: &["invalid model name", "longer than 128 bytes"],
        },
        Case {
            name: "alias ../x on train (checked before training)",
            args: |fx| train_as(fx, "m", Some("../x"), &fx.reg()),
            code: 1,
            stderr: &["invalid alias name", "../x"],
        },
        Case {
            name: "bad name with a registry that does not exist yet",
            args: |fx| train_as(fx, "../evil", None, &fx.p("fresh-reg")),
            code: 1,
            stderr: &["invalid model name"],
        },
        Case {
            name: "show a traversal model name",
            args: |fx| strings(&["registry", "show", "--registry", &fx.reg(), "../x"]),
            code: 1,
            stderr: &["invalid model name", "../x"],
        },
        Case {
            name: "show a traversal alias",
            args: |fx| strings(&["registry", "show", "--registry", &fx.reg(), "m@../x"]),
            code: 1,
            stderr: &["invalid alias name", "../x"],
        },
        Case {
            name: "promote to a traversal alias",
            args: |fx| {
                strings(&[
                    "registry",
                    "promote",
                    "--registry",
                    &fx.reg(),
                    "m@1",
                    "--alias",
                    "../../x",
                ])
            },
            code: 1,
            stderr: &["invalid alias name"],
        },
        // ---- unknown objects: exit 1 ----------------------------------------------------------
        Case {
            name: "unknown model",
            args: |fx| strings(&["registry", "show", "--registry", &fx.reg(), "ghost"]),
            code: 1,
            stderr: &["ghost", "not found"],
        },
        Case {
            name: "unknown version",
            args: |fx| strings(&["registry", "show", "--registry", &fx.reg(), "m@99"]),
            code: 1,
            stderr: &["no version 99"],
        },
        Case {
            name: "unknown alias",
            args: |fx| strings(&["registry", "show", "--registry", &fx.reg(), "m@prod"]),
            code: 1,
            stderr: &["no alias prod"],
        },
        Case {
            name: "promote to a version that does not exist",
            args: |fx| strings(&["registry", "promote", "--registry", &fx.reg(), "m@99"]),
            code: 1,
            stderr: &["no version 99"],
        },
        Case {
            name: "rollback of an alias that never moved",
            args: |fx| strings(&["registry", "rollback", "--registry", &fx.reg(), "m"]),
            code: 1,
            stderr: &["no previous target"],
        },
        Case {
            name: "registry directory that does not exist",
            args: |fx| strings(&["registry", "list", "--registry", &fx.p("none")]),
            code: 1,
            stderr: &["no registry at", "none"],
        },
        Case {
            name: "reproduce an unknown version",
            args: |fx| strings(&["reproduce", "m@99", "--registry", &fx.reg()]),
            code: 1,
            stderr: &["no version 99"],
        },
        Case {
            name: "score a missing input file",
            args: |fx| {
                strings(&[
                    "score",
                    "m@champion",
                    "--registry",
                    &fx.reg(),
                    "--input",
                    &fx.p("nope.csv"),
                    "--output",
                    &fx.p("scored.parquet"),
                ])
            },
            code: 1,
            stderr: &["nope.csv"],
        },
        Case {
            name: "score a file missing a signature column",
            args: |fx| {
                strings(&[
                    "score",
                    "m@champion",
                    "--registry",
                    &fx.reg(),
                    "--input",
                    &fx.p("narrow.csv"),
                    "--output",
                    &fx.p("scored.parquet"),
                ])
            },
            code: 1,
            stderr: &["missing column"],
        },
        Case {
            name: "drift against a missing current file",
            args: |fx| strings(&["drift", &fx.p("data.csv"), &fx.p("nope.csv")]),
            code: 1,
            stderr: &["nope.csv"],
        },
        Case {
            name: "drift against an empty current file",
            args: |fx| strings(&["drift", &fx.p("data.csv"), &fx.p("empty.csv")]),
            code: 1,
            stderr: &["empty table"],
        },
        Case {
            name: "serve on an address that is not one",
            args: |fx| fx.serve(&["--addr", "not-an-address"]),
            code: 1,
            stderr: &["not-an-address"],
        },
    ]
}

fn setup(dir: &Path) -> Fx {
    let fx = Fx {
        dir: dir.to_path_buf(),
    };
    let ok = |o: Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(mlops(&strings(&[
        "data",
        "generate",
        "--rows",
        "400",
        "--seed",
        "3",
        &fx.p("data.csv"),
    ])));
    ok(mlops(&strings(&[
        "data",
        "generate",
        "--rows",
        "200",
        "--seed",
        "3",
        &fx.p("full.parquet"),
    ])));
    let parquet = std::fs::read(fx.p("full.parquet")).unwrap();
    std::fs::write(fx.p("cut.parquet"), &parquet[..parquet.len() / 2]).unwrap();
    std::fs::write(fx.p("empty.csv"), "").unwrap();
    std::fs::write(fx.p("header.csv"), "a,b\n").unwrap();
    std::fs::write(fx.p("latin1.csv"), b"a,b\n1,ok\n2,caf\xe9\n").unwrap();
    std::fs::write(fx.p("table.txt"), "a,b\n1,2\n").unwrap();
    std::fs::write(fx.p("garbage.json"), "{not json").unwrap();
    std::fs::write(fx.p("narrow.csv"), "customer_id,age\n1,30\n").unwrap();
    ok(mlops(&train_as(&fx, "m", Some("champion"), &fx.reg())));
    fx
}

#[test]
fn every_bad_invocation_has_the_documented_exit_code_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = setup(tmp.path());
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let before = listing(&fx.dir);
        let o = mlops(&(case.args)(&fx));
        let stderr = String::from_utf8_lossy(&o.stderr);
        if o.status.code() != Some(case.code) {
            failures.push(format!(
                "{}: exit {:?} != {} (stderr: {stderr})",
                case.name,
                o.status.code(),
                case.code
            ));
        }
        for needle in case.stderr {
            if !stderr.contains(needle) {
                failures.push(format!("{}: stderr {stderr:?} lacks {needle:?}", case.name));
            }
        }
        if case.code == 1 && !stderr.starts_with("error: ") {
            failures.push(format!(
                "{}: stderr does not start with `error: `",
                case.name
            ));
        }
        let after = listing(&fx.dir);
        if before != after {
            let changed: Vec<_> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            failures.push(format!("{}: files changed: {changed:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) over {} case(s):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
