//! A wasm function that banks through the generated guest crate of `example.test.bank`: its input is a
//! list of operations, one per line (`open <id>`, `withdraw <id> <amount>`, `close <id>`, `burst <n>`,
//! `spin`, and for the executor: `yield <n>`, `channel`, `yield-during <id>`, `abandon <n> <id>`, `stall`), and its output has
//! one line per operation with what happened.

use std::cell::{Cell, RefCell};
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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
            ["yield", n] => {
                let n: u32 = n.parse().unwrap_or(0);
                YieldNow(n).await;
                format!("yielded {n}")
            }
            ["channel"] => channel().await,
            ["yield-during", id] => {
                // A future that wakes itself while a call is in flight.
                let open = bank_guest::open(bank_guest::OpenInput { id: (*id).to_owned() });
                let (opened, ()) = join2(open, YieldNow(3)).await;
                match opened {
                    Ok(account) => format!("opened {} while yielding", account.id),
                    Err(e) => format!("error {e}"),
                }
            }
            ["abandon", n, id] => {
                // Calls given up while in flight (as the branch of a `select` not taken is), many more
                // than the function may have pending at once; then one kept.
                let n: usize = n.parse().unwrap_or(0);
                for i in 0..n {
                    let mut call = Box::pin(bank_guest::open(bank_guest::OpenInput { id: format!("abandoned-{i}") }));
                    let _ = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                }
                match bank_guest::open(bank_guest::OpenInput { id: (*id).to_owned() }).await {
                    Ok(account) => format!("abandoned {n}, opened {}", account.id),
                    Err(e) => format!("abandoned {n}, error {e}"),
                }
            }
            ["stall"] => {
                // Waits for something nothing will ever wake.
                std::future::pending::<()>().await;
                "stall ended".to_owned()
            }
            _ => format!("unknown operation `{line}`"),
        };
        let _ = writeln!(out, "{result}");
    }
    out.into_bytes()
}

/// A future that wakes itself `n` times before it is ready, as an async runtime's `yield_now` does.
struct YieldNow(u32);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Two branches of one join: the receiver waits for a value that the sender sends after yielding; only
/// the sender's wake-up tells the executor that the receiver can progress.
async fn channel() -> String {
    let value: Cell<Option<u32>> = Cell::new(None);
    let receiver: RefCell<Option<Waker>> = RefCell::new(None);
    let receive = std::future::poll_fn(|cx| match value.take() {
        Some(v) => Poll::Ready(v),
        None => {
            *receiver.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    });
    let send = async {
        YieldNow(1).await;
        value.set(Some(42));
        if let Some(waker) = receiver.borrow_mut().take() {
            waker.wake();
        }
    };
    let (received, ()) = join2(receive, send).await;
    format!("received {received}")
}

/// Polls both futures until both are done.
async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        match (out_a.take(), out_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (out_a, out_b) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
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
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

iomod_sdk::function!(handler);
