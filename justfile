# Thin wrappers; the README's commands work without `just`.

# The quickstart: orders on SQLite -> relay -> broker -> consumer with an inbox.
demo:
    cargo run -p quickstart

# The whole test suite.
test:
    ./scripts/test

# Formatting, clippy and docs as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --all-features --no-deps --locked

# Everything CI runs, in a clone of your own.
ci:
    .ci/run

# The benchmark against PostgreSQL and Tansu: a table, and target/bench/results.json.
bench *ARGS:
    ./scripts/bench {{ARGS}}
