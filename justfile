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

# Benchmarks (added with the server adapters).
bench:
    @echo "no benchmarks yet: the benchmark binary comes with the PostgreSQL and Kafka adapters"
