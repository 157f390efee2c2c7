//! Misuse of `#[derive(Message)]` and of the publishing attributes is a compile error at the
//! attribute that says what is wrong: each file under `tests/ui` is one mistake, and its
//! `.stderr` the message rustc prints.

#[test]
fn misuse_is_a_compile_error_that_says_what_is_wrong() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
