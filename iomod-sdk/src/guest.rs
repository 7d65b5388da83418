//! Guest side: how a wasm function calls IOmods through its host.
//!
//! The host provides these imports in the `iomod` module (all pointers and lengths are checked by the
//! host; failures are values, never traps):
//!
//! | import | meaning |
//! |---|---|
//! | `call_start(path_ptr, path_len, input_ptr, input_len) -> i64` | starts a call of the method at `path` with `input` (a Cap'n Proto message whose root is the method's params). Returns the call's id (≥ 0), or a negative error number: `-2` a range outside memory, `-3` too many calls pending, `-4` too many bytes held for pending calls. |
//! | `call_start_contract(path_ptr, path_len, contract_ptr, contract_len, input_ptr, input_len) -> i64` | the same, for a `path` ending in `@<fingerprint>`, with the method's contract (JSON text, see [`crate::contract`]) whose fingerprint it is. The host reads the contract only when it has not seen that fingerprint before. |
//! | `call_poll(id) -> i64` | `-1` while the call is pending; when it has finished, `(len << 1) \| failed`: `len` bytes are ready, and `failed` says whether they are the method's results (0) or a protocol `Error` message (1). Other negative numbers: no such call. |
//! | `call_read(id, ptr, len) -> i32` | copies the finished call's bytes to `ptr` (exactly `len` bytes) and forgets the call. 0 on success. |
//! | `wait() -> i64` | blocks until a pending call finishes and returns its id; `-1` when no call is pending. |
//! | `fail(message_ptr, message_len)` | ends the run with an error carrying the message (UTF-8); does not return. |
//!
//! [`call`] starts a call and returns a future; [`block_on`] runs a function's entry point: it polls the
//! future and, while nothing can progress, sleeps in the host (`wait`) instead of spinning.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::{Error, ErrorCode};

#[cfg(target_arch = "wasm32")]
mod abi {
    #[link(wasm_import_module = "iomod")]
    unsafe extern "C" {
        pub fn call_start(path_ptr: u32, path_len: u32, input_ptr: u32, input_len: u32) -> i64;
        pub fn call_start_contract(
            path_ptr: u32,
            path_len: u32,
            contract_ptr: u32,
            contract_len: u32,
            input_ptr: u32,
            input_len: u32,
        ) -> i64;
        pub fn call_poll(id: u64) -> i64;
        pub fn call_read(id: u64, ptr: u32, len: u32) -> i32;
        pub fn call_forget(id: u64) -> i32;
        pub fn wait() -> i64;
        pub fn fail(message_ptr: u32, message_len: u32) -> !;
    }
}

/// The host side of the ABI, as plain functions (wasm32 imports; elsewhere, no host: every call fails).
mod host {
    #[cfg(target_arch = "wasm32")]
    pub fn call_start(path: &str, input: &[u8]) -> i64 {
        // SAFETY: the host reads the two ranges of this module's memory we pass, and checks them.
        unsafe {
            super::abi::call_start(
                path.as_ptr() as u32,
                path.len() as u32,
                input.as_ptr() as u32,
                input.len() as u32,
            )
        }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn call_start_contract(path: &str, contract: &str, input: &[u8]) -> i64 {
        // SAFETY: the host reads the three ranges of this module's memory we pass, and checks them.
        unsafe {
            super::abi::call_start_contract(
                path.as_ptr() as u32,
                path.len() as u32,
                contract.as_ptr() as u32,
                contract.len() as u32,
                input.as_ptr() as u32,
                input.len() as u32,
            )
        }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn call_poll(id: u64) -> i64 {
        // SAFETY: no memory is passed.
        unsafe { super::abi::call_poll(id) }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn call_read(id: u64, buffer: &mut [u8]) -> i32 {
        // SAFETY: the host writes at most `buffer.len()` bytes into `buffer`, and checks the range.
        unsafe { super::abi::call_read(id, buffer.as_mut_ptr() as u32, buffer.len() as u32) }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn call_forget(id: u64) -> i32 {
        // SAFETY: no memory is passed.
        unsafe { super::abi::call_forget(id) }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn wait() -> i64 {
        // SAFETY: no memory is passed.
        unsafe { super::abi::wait() }
    }
    #[cfg(target_arch = "wasm32")]
    pub fn fail(message: &str) -> ! {
        // SAFETY: the host reads the range of this module's memory we pass, and checks it.
        unsafe { super::abi::fail(message.as_ptr() as u32, message.len() as u32) }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn call_start(_: &str, _: &[u8]) -> i64 {
        -1
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn call_start_contract(_: &str, _: &str, _: &[u8]) -> i64 {
        -1
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn call_poll(_: u64) -> i64 {
        -2
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn call_read(_: u64, _: &mut [u8]) -> i32 {
        -1
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn call_forget(_: u64) -> i32 {
        -2
    }
}

thread_local! {
    /// Wakers of pending calls, by call id.
    static WAKERS: RefCell<BTreeMap<u64, Waker>> = const { RefCell::new(BTreeMap::new()) };
}

/// A call in flight; resolves to the method's results message, or the error that ended the call.
#[derive(Debug)]
pub struct Call {
    id: Result<u64, Option<Error>>,
}

/// Starts calling the method at `path` (`org.ns.name.method`, optionally followed by `@<fingerprint>`, the
/// method's fingerprint the caller was built with; generated guest crates add it) with `input`, a Cap'n
/// Proto message whose root is the method's params struct.
pub fn call(path: &str, input: Vec<u8>) -> Call {
    Call::started(path, host::call_start(path, &input))
}

/// Like [`call`], with the method's contract: `path` ends in `@<fingerprint>`, the fingerprint of
/// `contract` (generated guest crates pass both). When the IOmod was built from another version of the
/// manifest, the registry compares the two contracts by Cap'n Proto's compatibility rules instead of
/// refusing the call outright.
pub fn call_with_contract(path: &str, contract: &'static str, input: Vec<u8>) -> Call {
    Call::started(path, host::call_start_contract(path, contract, &input))
}

impl Call {
    fn started(path: &str, id: i64) -> Call {
        let id = if id >= 0 {
            Ok(id as u64)
        } else {
            let message = if cfg!(target_arch = "wasm32") {
                let why = match id {
                    -2 => "the path or the input lies outside the function's memory",
                    -3 => {
                        "the function has as many calls pending (started and not read) as its \
                         `max_pending_calls` allows"
                    }
                    -4 => {
                        "its input, with the inputs of the calls in flight and the results not read \
                         yet, is more than the function's `max_pending_bytes`"
                    }
                    _ => "unknown error",
                };
                format!("the host refused to start the call of {path}: {why} (error {id})")
            } else {
                "IOmod calls need a wasm host; this code is not running in one".to_owned()
            };
            Err(Some(Error::new(ErrorCode::Internal, message)))
        };
        Call { id }
    }
}

impl Future for Call {
    type Output = Result<Vec<u8>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = match &mut self.id {
            Ok(id) => *id,
            Err(error) => {
                return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                    Error::new(ErrorCode::Internal, "the call was polled after it finished")
                })));
            }
        };
        let status = host::call_poll(id);
        if status == -1 {
            WAKERS.with(|w| w.borrow_mut().insert(id, cx.waker().clone()));
            return Poll::Pending;
        }
        WAKERS.with(|w| w.borrow_mut().remove(&id));
        self.id = Err(None);
        if status < 0 {
            return Poll::Ready(Err(Error::new(
                ErrorCode::Internal,
                format!("the host knows no call {id} (error {status})"),
            )));
        }
        let (len, failed) = ((status >> 1) as usize, status & 1 == 1);
        let mut bytes = vec![0u8; len];
        let read = host::call_read(id, &mut bytes);
        if read != 0 {
            host::call_forget(id);
            return Poll::Ready(Err(Error::new(
                ErrorCode::Internal,
                format!("reading the result of call {id} failed (error {read})"),
            )));
        }
        if failed {
            let error = read_message(&bytes)
                .and_then(|m| {
                    m.get_root::<crate::iomod_capnp::error::Reader<'_>>()
                        .map(Error::read)
                })
                .unwrap_or_else(|e| {
                    Error::new(
                        ErrorCode::Internal,
                        format!("the host sent a malformed error: {e}"),
                    )
                });
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(bytes))
    }
}

impl Drop for Call {
    /// A call dropped before its result was read (the branch a `select` did not take, a timeout) is given
    /// up: the host cancels it if it is still in flight and drops its result, so that it no longer counts
    /// against the function's `max_pending_calls` and `max_pending_bytes`.
    fn drop(&mut self) {
        if let Ok(id) = self.id {
            let _ = WAKERS.try_with(|w| w.borrow_mut().remove(&id));
            host::call_forget(id);
        }
    }
}

/// Reads a message in standard framing from bytes of any alignment.
pub fn read_message(
    bytes: &[u8],
) -> capnp::Result<capnp::message::Reader<capnp::serialize::OwnedSegments>> {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(bytes.len() / 8 * 4 + 1024));
    options.nesting_limit(crate::NESTING_LIMIT);
    capnp::serialize::read_message(&mut &bytes[..], options)
}

/// Runs `future` to completion: the entry point of a function. While every call it waits for is pending,
/// the guest sleeps in the host until one finishes.
///
/// Natively (a function's native tests, where generated guest crates call implementations installed in
/// process) it is an ordinary executor: the thread sleeps until the future is woken. In wasm, a future
/// that can never be woken (pending, not woken, no IOmod call in flight) ends the run with an error.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// Runs `future` to completion: the entry point of a function. A future woken while it is polled (one that
/// yields, or a branch of a join woken by another) is polled again at once; while every call it waits for
/// is pending, the guest sleeps in the host until one finishes.
///
/// When the future is pending, nothing woke it and no IOmod call is in flight, nothing ever will: the run
/// ends with an error saying so (the host's `fail`), not a panic.
#[cfg(target_arch = "wasm32")]
pub fn block_on<F: Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set when the future is woken.
    struct Woken(AtomicBool);
    impl std::task::Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Until something wakes the future: sleep in the host until a call finishes, and wake the future
        // that waits for it (a call whose future was dropped wakes nothing).
        while !woken.0.swap(false, Ordering::Relaxed) {
            let finished = host::wait();
            if finished < 0 {
                host::fail(STALLED);
            }
            if let Some(waker) = WAKERS.with(|w| w.borrow_mut().remove(&(finished as u64))) {
                waker.wake();
            }
        }
    }
}

/// Why a function whose future can never progress stops.
#[cfg(target_arch = "wasm32")]
const STALLED: &str = "the function is waiting, but nothing can wake it: its future is pending, it was \
    not woken, and no IOmod call is in flight (a function can await IOmod calls and futures woken by its \
    own code, not timers or I/O)";

/// Defines a function's entry points around `handler`, an `async fn(Vec<u8>) -> Vec<u8>` that takes the
/// function's input and returns its output (by convention JSON). The host calls `iomod_alloc` to place
/// the input, then `iomod_main`, which runs the handler with [`block_on`].
///
/// ```ignore
/// async fn handler(input: Vec<u8>) -> Vec<u8> {
///     input
/// }
/// iomod_sdk::function!(handler);
/// ```
#[macro_export]
macro_rules! function {
    ($handler:path) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn iomod_alloc(len: u32) -> u32 {
            $crate::guest::__alloc(len).expose_provenance() as u32
        }

        /// The function's entry point, called by the host once per instance.
        ///
        /// # Safety
        ///
        /// `ptr` must be what `iomod_alloc(len)` returned, with the same `len`, not used since.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iomod_main(ptr: u32, len: u32) -> u64 {
            let input = ::std::ptr::with_exposed_provenance_mut::<u8>(ptr as usize);
            // SAFETY: the host calls `iomod_main` with the buffer `iomod_alloc(len)` returned, once.
            let (output, output_len) =
                unsafe { $crate::guest::__main(input, len as usize, $handler) };
            ((output.expose_provenance() as u64) << 32) | output_len as u64
        }

        // Natively (a function's tests) there are no entry points; the handler still counts as used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $handler;
        };
    };
}

/// Allocates the input buffer for the host (see [`function!`]): `len` bytes, leaked until [`__main`]
/// takes them back.
#[doc(hidden)]
pub fn __alloc(len: u32) -> *mut u8 {
    Box::into_raw(vec![0u8; len as usize].into_boxed_slice()).cast::<u8>()
}

/// Runs the handler on the input the host placed (see [`function!`]) and returns the output's pointer
/// and length. The instance is discarded after the run, so the output is never freed.
///
/// # Safety
///
/// `ptr` must be what [`__alloc`]`(len)` returned, with the same `len`, and must not be used again:
/// the buffer becomes the handler's input.
///
/// ```compile_fail,E0133
/// // Calling it needs `unsafe`: it takes ownership of the memory at `ptr`.
/// let input = iomod_sdk::guest::__alloc(4);
/// let _ = iomod_sdk::guest::__main(input, 4, |input: Vec<u8>| async move { input });
/// ```
#[doc(hidden)]
pub unsafe fn __main<F, Fut>(ptr: *mut u8, len: usize, handler: F) -> (*mut u8, usize)
where
    F: FnOnce(Vec<u8>) -> Fut,
    Fut: Future<Output = Vec<u8>>,
{
    // SAFETY: the caller guarantees that `ptr` and `len` are a `Box<[u8]>` leaked by `__alloc`, not used
    // since.
    let input = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }.into_vec();
    let output = block_on(handler(input)).into_boxed_slice();
    let len = output.len();
    (Box::into_raw(output).cast::<u8>(), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_points_give_the_input_to_the_handler_and_return_its_output() {
        let input = __alloc(3);
        // SAFETY: `__alloc(3)` returned 3 writable bytes.
        unsafe { input.copy_from_nonoverlapping(b"abc".as_ptr(), 3) };
        // SAFETY: `input` is what `__alloc(3)` returned, not used since.
        let (output, len) = unsafe {
            __main(input, 3, |input: Vec<u8>| async move {
                input.into_iter().rev().collect()
            })
        };
        // SAFETY: `__main` returns a leaked `Box<[u8]>` of `len` bytes.
        let output = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(output, len)) };
        assert_eq!(&output[..], b"cba");
    }
}
