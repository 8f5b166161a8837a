"""scripts/check_layout.py, the house rules of src/ that the unit layer of
scripts/test.sh enforces: it must report what breaks them (so a violation
fails `make test`) and leave alone what does not. Expected results are
written out by hand for small synthetic source trees."""
import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "scripts", "check_layout.py")


@pytest.fixture()
def layout():
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_on(layout, tmp_path, files, capsys):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    layout.SRC = str(tmp_path)
    status = layout.main()
    lines = capsys.readouterr().out.strip().splitlines()
    return status, lines[:-1], lines[-1]


SAFE_PART = """\
pub fn a() -> u32 {
    // SAFETY: a plain read.
    let x = unsafe { f() };
    if x > 0 {
        unsafe { g() }
    } else {
        0
    }
}
"""


def test_unsafe_fn_outside_pg_and_fdw_fails(layout, tmp_path, capsys):
    status, problems, summary = run_on(
        layout,
        tmp_path,
        {
            "lib.rs": "mod governance;\nmod pg;\n",
            "governance/mod.rs": "unsafe fn walk(p: *mut u8) {}\npub(super) unsafe fn walk2() {}\n",
            "pg/mod.rs": "pub unsafe fn shim(p: *mut u8) {}\n",
        },
        capsys,
    )
    assert status == 1
    assert problems == [
        "governance/mod.rs:1: unsafe fn walk belongs in src/pg/ or src/fdw/ (elsewhere: safe Rust over their shims)",
        "governance/mod.rs:2: unsafe fn walk2 belongs in src/pg/ or src/fdw/ (elsewhere: safe Rust over their shims)",
    ]
    assert summary.startswith("check_layout: 3 files checked, 2 problems (")
    assert "2 unsafe fns and 0 uncommented unsafe blocks" in summary


def test_uncommented_unsafe_block_fails(layout, tmp_path, capsys):
    source = SAFE_PART + "fn b() {\n    let y = 1;\n    let z = unsafe { h() };\n}\n"
    status, problems, summary = run_on(layout, tmp_path, {"lib.rs": "mod audit;\n", "audit/mod.rs": source}, capsys)
    assert status == 1
    # line 5 (first statement of an `if` block under the SAFETY comment's
    # statement) is not commented either: the comment covers line 3 only
    assert problems == [
        "audit/mod.rs:5: unsafe block without a // SAFETY: comment",
        "audit/mod.rs:12: unsafe block without a // SAFETY: comment",
    ]
    assert "0 unsafe fns and 2 uncommented unsafe blocks" in summary


def test_commented_blocks_types_strings_comments_and_tests_pass(layout, tmp_path, capsys):
    source = """\
// unsafe fn in_a_comment() {}
/* unsafe fn in_a_block_comment() { unsafe { } } */
const S: &str = "unsafe fn in_a_string() { unsafe { } }";
type Hook = Option<unsafe fn(*mut u8)>;
fn a() -> u32 {
    // SAFETY: a plain read,
    // over two lines.
    let x =
        unsafe { f() };
    match x {
        0 => {
            // SAFETY: first inside the arm, under the arm's line.
            unsafe { g() }
        }
        _ => unsafe {
            // SAFETY: first line inside the block.
            h()
        },
    }
}
#[cfg(test)]
mod tests {
    unsafe fn helper() {}
    fn t() { unsafe { helper() } }
}
"""
    status, problems, summary = run_on(layout, tmp_path, {"lib.rs": "mod pii;\n", "pii/mod.rs": source}, capsys)
    assert problems == []
    assert summary.startswith("check_layout: 2 files checked, 0 problems (")
    assert status == 0


def test_existing_rules_still_apply(layout, tmp_path, capsys):
    status, problems, _ = run_on(
        layout,
        tmp_path,
        {
            "lib.rs": "mod audit;\nmod governance;\n",
            "audit/mod.rs": "use crate::governance::x;\n",
            "governance/mod.rs": 'unsafe extern "C-unwind" fn on_xact(event: u32) {}\npub fn x() {}\n',
        },
        capsys,
    )
    assert status == 1
    assert "audit/mod.rs: part audit/ must not import governance/ (governance)" in problems
    assert "governance/mod.rs: extern callback on_xact belongs in src/pg/ or src/fdw/" in problems
