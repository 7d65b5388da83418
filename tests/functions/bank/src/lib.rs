//! A wasm function that banks through the generated guest crate of `example.test.bank`: its input is a
//! list of operations, one per line (`open <id>`, `withdraw <id> <amount>`, `close <id>`, `burst <n>`,
//! `spin`), and its output has one line per operation with what happened.

use std::fmt::Write;

async fn handler(input: Vec<u8>) -> Vec<u8> {
    let mut out = String::new();
    for line in String::from_utf8_lossy(&input).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let result = match words.as_slice() {
            ["open", id] => match bank_guest::open(bank_guest::OpenInput { id: (*id).to_owned() }).await {
                Ok(account) => format!("opened {} {}", account.id, account.balance),
                Err(e) => format!("error {e}"),
            },
            ["withdraw", id, amount] => {
                let input = bank_guest::WithdrawInput { id: (*id).to_owned(), amount: amount.parse().unwrap_or(0) };
                match bank_guest::withdraw(input).await {
                    Ok(account) => format!("balance {}", account.balance),
                    Err(bank_guest::WithdrawError::InsufficientFunds(e)) => format!("insufficient {} < {}", e.balance, e.requested),
                    Err(bank_guest::WithdrawError::AccountNotFound(e)) => format!("not-found {}", e.id),
                    Err(bank_guest::WithdrawError::Frozen(_)) => "frozen".to_owned(),
                    Err(bank_guest::WithdrawError::Failed(e)) => format!("failed {} {}", e.code, e.message),
                    // Named errors a newer manifest adds (the error types are `#[non_exhaustive]`).
                    Err(e) => format!("other {e}"),
                }
            }
            ["close", id] => match bank_guest::close(bank_guest::CloseInput { id: (*id).to_owned() }).await {
                Ok(_) => "closed".to_owned(),
                Err(e) => format!("error {e}"),
            },
            ["burst", n] => {
                // Many calls in flight at once from one function.
                let n: usize = n.parse().unwrap_or(0);
                let calls = (0..n).map(|i| bank_guest::open(bank_guest::OpenInput { id: format!("burst-{i}") }));
                let results = join_all(calls.collect()).await;
                format!("burst {}", results.iter().filter(|r| r.is_ok()).count())
            }
            _ => format!("unknown operation `{line}`"),
        };
        let _ = writeln!(out, "{result}");
    }
    out.into_bytes()
}

/// Polls every future until all are done (a minimal `join_all`, to keep the function's dependencies small).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

iomod_sdk::function!(handler);
