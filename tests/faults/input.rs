//! Fault family 8a, bad manifests at the compiler's door: every file of
//! tests/fixtures/invalid-corpus/ through the real `lcc validate` and `lcc compile`, each
//! under a memory cap and a deadline: exit 1, every expected error at FILE:LINE:COL with
//! its field, no panic, nothing written.

use crate::support::{lcc_bounded, listing, Bounded};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Memory cap for one `lcc validate`/`compile` run (KiB): far above what a real
/// cluster needs, far below what a runaway expansion would take.
const MEM_KIB: u64 = 1 << 20;

/// Deadline of one run.
const DEADLINE: Duration = Duration::from_secs(10);

/// An expected error: line, column, and the field path of `= in KIND/NAME, field PATH`
/// (None where the error is outside one object: YAML syntax, a document without kind).
type Expected = (u32, u32, Option<&'static str>);

/// Every case of the corpus with the errors it must give (at least these).
const CORPUS: &[(&str, &[Expected])] = &[
    (
        "app-bad-type.yaml",
        &[(3, 7, Some("type")), (4, 1, Some("docker"))],
    ),
    (
        "app-no-platforms.yaml",
        &[
            (5, 14, Some("local.platforms")),
            (10, 8, Some("local.platforms")),
        ],
    ),
    (
        "app-section-mismatch.yaml",
        &[
            (6, 1, Some("static")),
            (7, 1, Some("remote")),
            (9, 1, Some("static")),
        ],
    ),
    (
        "cluster-bad-http.yaml",
        &[(3, 7, Some("http")), (4, 12, Some("hostPorts"))],
    ),
    (
        "cluster-bad-range.yaml",
        &[
            (2, 7, Some("name")),
            (3, 7, Some("http")),
            (4, 12, Some("hostPorts")),
        ],
    ),
    ("cluster-twice.yaml", &[(4, 7, Some("kind"))]),
    ("deeply-nested-maps.yaml", &[(3, 1027, None)]),
    ("deeply-nested.yaml", &[(5, 269, None)]),
    (
        "duplicate-keys.yaml",
        &[(3, 1, Some("name")), (10, 17, Some("local.env.A"))],
    ),
    (
        "duplicate-names.yaml",
        &[(5, 7, Some("name")), (14, 7, Some("name"))],
    ),
    (
        "empty-values.yaml",
        &[(2, 5, Some("name")), (6, 7, Some("name"))],
    ),
    (
        "entrance-bad.yaml",
        &[(20, 10, Some("gateway")), (24, 10, Some("gateway"))],
    ),
    (
        "env-bad-names.yaml",
        &[
            (7, 11, Some("local.env.1BAD")),
            (8, 20, Some("local.env.LCC_PORT_HTTP")),
            (9, 10, Some("local.env.A-B")),
        ],
    ),
    ("env-nul-value.yaml", &[(6, 17, Some("local.env.SECRET"))]),
    ("env-wrong-type.yaml", &[(6, 8, Some("local.env"))]),
    ("fixed-port-replicas.yaml", &[(11, 11, Some("replicas"))]),
    (
        "gateway-bad.yaml",
        &[
            (3, 7, Some("port")),
            (4, 9, Some("target")),
            (6, 10, Some("address")),
        ],
    ),
    (
        "gateway-collisions.yaml",
        &[
            (17, 7, Some("port")),
            (23, 7, Some("port")),
            (29, 7, Some("port")),
        ],
    ),
    (
        "group-replicas-bad.yaml",
        &[
            (10, 11, Some("replicas")),
            (15, 11, Some("replicas")),
            (20, 11, Some("replicas")),
        ],
    ),
    (
        "huge-name.yaml",
        &[(2, 7, Some("name")), (7, 9, Some("target"))],
    ),
    (
        "instance-bad.yaml",
        &[(10, 8, Some("state")), (14, 6, Some("app"))],
    ),
    ("instance-name-clash.yaml", &[(13, 7, Some("name"))]),
    (
        "interface-bad-protocol.yaml",
        &[
            (7, 27, Some("interfaces[0].protocol")),
            (8, 40, Some("interfaces[1].port")),
            (9, 5, Some("interfaces[2].protocol")),
        ],
    ),
    (
        "interface-duplicates.yaml",
        &[
            (8, 12, Some("interfaces[1].name")),
            (9, 12, Some("interfaces[2].name")),
        ],
    ),
    // A kind of the wrong type is a wrong value: docs/manifests.md says it points at the value.
    ("kind-wrong-type.yaml", &[(1, 7, None), (4, 7, None)]),
    ("missing-kind.yaml", &[(1, 1, None)]),
    ("not-a-mapping.yaml", &[(1, 1, None)]),
    ("nul-bytes.yaml", &[(2, 9, None)]),
    ("null-document-fields.yaml", &[(3, 6, Some("app"))]),
    ("only-separators.yaml", &[(5, 1, None)]),
    (
        "platform-bad-os-arch.yaml",
        &[
            (6, 11, Some("local.platforms[0].os")),
            (7, 22, Some("local.platforms[0].arch[1]")),
            (10, 13, Some("local.platforms[1].arch[0]")),
        ],
    ),
    (
        "platform-command-and-shell.yaml",
        &[
            (8, 7, Some("local.platforms[0].shell")),
            (9, 7, Some("local.platforms[1]")),
        ],
    ),
    (
        "platform-empty-command.yaml",
        &[(8, 30, Some("local.platforms[2].command"))],
    ),
    ("port-huge.yaml", &[(3, 7, Some("port"))]),
    (
        "port-wrong-types.yaml",
        &[(6, 40, Some("interfaces[0].port"))],
    ),
    (
        "probe-bad-durations.yaml",
        &[
            (9, 17, Some("probe.initialDelay")),
            (10, 11, Some("probe.period")),
            (11, 12, Some("probe.timeout")),
        ],
    ),
    (
        "probe-bad-target.yaml",
        &[
            (8, 21, Some("probe.http.interface")),
            (8, 33, Some("probe.http.path")),
            (15, 15, Some("probe.exec")),
        ],
    ),
    (
        "probe-threshold.yaml",
        &[
            (6, 43, Some("probe.failureThreshold")),
            (13, 43, Some("probe.failureThreshold")),
        ],
    ),
    (
        "probe-two-kinds.yaml",
        &[(8, 3, Some("probe")), (16, 8, Some("probe"))],
    ),
    (
        "remote-bad.yaml",
        &[
            (8, 14, Some("interfaces[0]")),
            (9, 1, Some("storage")),
            (11, 1, Some("interfaces")),
            (14, 9, Some("remote.host")),
        ],
    ),
    (
        "restart-bad.yaml",
        &[
            (7, 11, Some("restart.policy")),
            (8, 15, Some("restart.maxRetries")),
            (9, 31, Some("restart.backoff.max")),
        ],
    ),
    ("scalar-document.yaml", &[(1, 1, None), (3, 1, None)]),
    (
        "static-bad.yaml",
        &[
            (4, 42, Some("static.sha256")),
            (4, 53, Some("static.root")),
            (6, 3, Some("interfaces")),
        ],
    ),
    (
        "stop-bad.yaml",
        &[(6, 16, Some("stop.signal")), (6, 34, Some("stop.timeout"))],
    ),
    (
        "storage-binding-bad.yaml",
        &[
            (10, 27, Some("storage[0].path")),
            (11, 15, Some("storage[1].storage")),
            (12, 27, Some("storage[2].path")),
        ],
    ),
    ("syntax-tab-indent.yaml", &[(5, 2, None)]),
    ("syntax-unclosed-flow.yaml", &[(6, 1, None)]),
    ("syntax-unclosed-quote.yaml", &[(2, 7, None)]),
    ("syntax-undefined-alias.yaml", &[(5, 14, None)]),
    (
        "unicode.yaml",
        &[
            (2, 7, Some("name")),
            (5, 7, Some("name")),
            (8, 7, Some("name")),
            (11, 21, Some("interfaces[0].name")),
        ],
    ),
    (
        "unknown-fields-deep.yaml",
        &[
            (4, 1, Some("replicas")),
            (6, 45, Some("local.platforms[0].user")),
            (7, 3, Some("local.cwd")),
            (8, 43, Some("interfaces[0].host")),
            (10, 27, Some("probe.http.scheme")),
            (11, 50, Some("restart.backoff.jitter")),
        ],
    ),
    (
        "unknown-kind.yaml",
        &[(1, 7, Some("kind")), (4, 7, Some("kind"))],
    ),
    ("wrong-top-types.yaml", &[(4, 8, Some("local"))]),
];

/// Cases with a test of their own below (not UTF-8; an alias bomb).
const SPECIAL: &[&str] = &["binary-garbage.yaml", "invalid-utf8.yaml", "yaml-bomb.yaml"];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid-corpus")
}

/// A tempdir holding a copy of one corpus file, so that "nothing written" can be checked.
fn scene(case: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::copy(corpus_dir().join(case), tmp.path().join(case)).expect("copy case");
    tmp
}

/// The problems of one run that must refuse `case`: exit 1, no panic, no hang.
fn refusal_problems(what: &str, case: &str, run: &Bounded) -> Vec<String> {
    let mut problems = Vec::new();
    let err = run.err();
    if run.timed_out {
        problems.push(format!("{what} {case}: still running after {DEADLINE:?}"));
    }
    if run.code != Some(1) {
        problems.push(format!(
            "{what} {case}: exit {:?}, want 1; stderr tail: {}",
            run.code,
            tail(&err)
        ));
    }
    if err.contains("panicked") {
        problems.push(format!("{what} {case}: panicked: {}", tail(&err)));
    }
    if !run.stdout.is_empty() {
        problems.push(format!("{what} {case}: wrote to stdout"));
    }
    problems
}

/// The last 300 characters of `s`.
fn tail(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(300)..].iter().collect()
}

/// The error blocks of a diagnostics text (separated by blank lines).
fn blocks(err: &str) -> Vec<&str> {
    err.split("\n\n").collect()
}

/// Whether some error block points at `case:line:col` and (if given) names `field`.
fn has_error(err: &str, case: &str, (line, col, field): Expected) -> bool {
    let at = format!(" --> {case}:{line}:{col}\n");
    blocks(err).iter().any(|b| {
        b.contains(&at)
            && field.is_none_or(|f| {
                b.lines().any(|l| {
                    l.trim_start().starts_with("= in ") && l.ends_with(&format!(", field {f}"))
                })
            })
    })
}

/// Runs validate and compile on one case; returns every problem found.
fn check_case(case: &str, expected: &[Expected]) -> Vec<String> {
    let tmp = scene(case);
    let before = listing(tmp.path());
    let mut problems = Vec::new();

    let validate = lcc_bounded(tmp.path(), &["validate", case], MEM_KIB, DEADLINE);
    problems.extend(refusal_problems("validate", case, &validate));
    let err = validate.err();
    for &want in expected {
        if !has_error(&err, case, want) {
            problems.push(format!(
                "validate {case}: no error at {}:{} naming field {:?}; got:\n{err}",
                want.0, want.1, want.2
            ));
        }
    }

    let compile = lcc_bounded(
        tmp.path(),
        &["compile", case, "-o", "pods"],
        MEM_KIB,
        DEADLINE,
    );
    problems.extend(refusal_problems("compile", case, &compile));
    let cerr = compile.err();
    let want = format!("{}; nothing written\n", err.trim_end());
    if cerr != want {
        problems.push(format!(
            "compile {case}: stderr differs from validate's (+ `; nothing written`):\n{cerr}"
        ));
    }
    if listing(tmp.path()) != before {
        problems.push(format!(
            "{case}: files were written: {:?}",
            listing(tmp.path())
        ));
    }
    problems
}

#[test]
fn corpus_has_forty_cases_and_each_is_expected() {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut known: Vec<String> = CORPUS
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(SPECIAL.iter().map(|c| c.to_string()))
        .collect();
    known.sort();
    assert_eq!(
        files, known,
        "every corpus file has an expectation and vice versa"
    );
    assert!(
        files.len() >= 40,
        "at least 40 invalid manifests, have {}",
        files.len()
    );
}

#[test]
fn every_invalid_manifest_is_refused_with_its_position_and_field() {
    let mut problems = Vec::new();
    let mut errors = 0;
    let start = std::time::Instant::now();
    for &(case, expected) in CORPUS {
        errors += expected.len();
        problems.extend(check_case(case, expected));
    }
    eprintln!(
        "faults: invalid manifests: {} files, {} expected errors, {} runs (validate+compile), {} problems, {:?}",
        CORPUS.len(),
        errors,
        CORPUS.len() * 2,
        problems.len(),
        start.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n---\n")
    );
}

/// Line and column (1-based, in characters) of the first byte that is not UTF-8.
fn first_bad_byte(bytes: &[u8]) -> (u32, u32) {
    let good = std::str::from_utf8(bytes)
        .err()
        .map_or(bytes.len(), |e| e.valid_up_to());
    let text = std::str::from_utf8(&bytes[..good]).expect("valid prefix");
    let line = text.matches('\n').count() + 1;
    let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

#[test]
fn files_that_are_not_utf8_are_refused_at_the_first_bad_byte() {
    let mut problems = Vec::new();
    for case in ["binary-garbage.yaml", "invalid-utf8.yaml"] {
        let bytes = std::fs::read(corpus_dir().join(case)).expect("read case");
        let (line, col) = first_bad_byte(&bytes);
        problems.extend(check_case(case, &[(line, col, None)]));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n---\n"));
}

#[test]
fn an_alias_bomb_is_refused_within_memory_and_time_bounds() {
    // Nine levels of nine aliases: 9^9 nodes if expanded. A loader must refuse it (or
    // not expand it) instead of allocating gigabytes.
    let case = "yaml-bomb.yaml";
    let problems = check_case(case, &[]);
    let run = lcc_bounded(scene(case).path(), &["validate", case], MEM_KIB, DEADLINE);
    eprintln!(
        "faults: alias bomb: exit {:?} after {:?} under a {} MiB cap",
        run.code,
        run.took,
        MEM_KIB >> 10
    );
    assert!(problems.is_empty(), "{}", problems.join("\n---\n"));
    assert!(
        run.err().contains(&format!(" --> {case}:")),
        "the error names the file: {}",
        run.err()
    );
}

#[test]
fn the_whole_corpus_as_one_cluster_is_refused_without_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus") {
        let name = entry.expect("entry").file_name();
        if name != "yaml-bomb.yaml" {
            std::fs::copy(corpus_dir().join(&name), tmp.path().join(&name)).expect("copy");
        }
    }
    let before = listing(tmp.path());
    let run = lcc_bounded(tmp.path(), &["validate", "."], MEM_KIB, DEADLINE);
    let problems = refusal_problems("validate", "the corpus dir", &run);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let run = lcc_bounded(
        tmp.path(),
        &["compile", ".", "-o", "pods"],
        MEM_KIB,
        DEADLINE,
    );
    let problems = refusal_problems("compile", "the corpus dir", &run);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(listing(tmp.path()), before, "nothing written");
}
