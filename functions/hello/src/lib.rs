//! The smallest function: answers every invocation with `Hello, world!\n`, whatever the input. The
//! benchmarks use it to measure what an invocation costs besides the function's own work
//! (`iomod serve functions/hello/function.toml`, then `POST /functions/hello`).

async fn handler(_input: Vec<u8>) -> Vec<u8> {
    b"Hello, world!\n".to_vec()
}

iomod_sdk::function!(handler);
