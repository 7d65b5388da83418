//! The little of WASI preview 1 (`wasi_snapshot_preview1`) that functions built for `wasm32-wasip1`
//! import: standard output and error (kept, bounded, for error reports and logs), an empty environment and
//! argument list, clocks, randomness (the operating system's, or `EIO`), and `proc_exit`. Nothing reaches files, sockets or the host's
//! environment: IOmods are the only way out.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker};

use super::RunState;

/// The most bytes `random_get` fills at once; a larger request is filled in chunks of this size, with the
/// function yielding between them, so that it neither holds its thread nor escapes its time budget.
pub(super) const RANDOM_CHUNK_BYTES: usize = 64 * 1024;

/// The most output a run keeps.
pub(super) const MAX_LOG_BYTES: usize = 64 * 1024;

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const EIO: i32 = 29;

/// The function called `proc_exit` with this code.
#[derive(Debug)]
pub(super) struct Exit(pub(super) u32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the function exited with code {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn memory<'a>(caller: &'a mut Caller<'_, RunState>) -> Option<(&'a mut [u8], &'a mut RunState)> {
    let memory = caller.get_export("memory")?.into_memory()?;
    Some(memory.data_and_store_mut(caller))
}

fn put_u32(data: &mut [u8], at: u32, value: u32) -> bool {
    match data.get_mut(at as usize..at as usize + 4) {
        Some(slot) => {
            slot.copy_from_slice(&value.to_le_bytes());
            true
        }
        None => false,
    }
}

fn get_u32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    const M: &str = "wasi_snapshot_preview1";
    linker.func_wrap(
        M,
        "fd_write",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         iovs: u32,
         iovs_len: u32,
         nwritten: u32|
         -> i32 {
            if fd != 1 && fd != 2 {
                return EBADF;
            }
            let Some((data, state)) = memory(&mut caller) else {
                return EFAULT;
            };
            let mut total: u32 = 0;
            for i in 0..iovs_len as usize {
                let at = iovs as usize + i * 8;
                let (Some(ptr), Some(len)) = (get_u32(data, at), get_u32(data, at + 4)) else {
                    return EFAULT;
                };
                let Some(bytes) = data.get(ptr as usize..ptr as usize + len as usize) else {
                    return EFAULT;
                };
                let room = MAX_LOG_BYTES.saturating_sub(state.log.len());
                state.log.extend_from_slice(&bytes[..bytes.len().min(room)]);
                total = total.saturating_add(len);
            }
            if put_u32(data, nwritten, total) {
                ESUCCESS
            } else {
                EFAULT
            }
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(
            M,
            name,
            |mut caller: Caller<'_, RunState>, count: u32, size: u32| -> i32 {
                let Some((data, _)) = memory(&mut caller) else {
                    return EFAULT;
                };
                if put_u32(data, count, 0) && put_u32(data, size, 0) {
                    ESUCCESS
                } else {
                    EFAULT
                }
            },
        )?;
    }
    for name in ["environ_get", "args_get"] {
        linker.func_wrap(M, name, |_: Caller<'_, RunState>, _: u32, _: u32| -> i32 {
            ESUCCESS
        })?;
    }
    linker.func_wrap(
        M,
        "proc_exit",
        |_: Caller<'_, RunState>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::new(Exit(code as u32)))
        },
    )?;
    linker.func_wrap(
        M,
        "clock_time_get",
        |mut caller: Caller<'_, RunState>, clock: i32, _precision: i64, out: u32| -> i32 {
            let nanos = match clock {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                1..=3 => caller.data().started.elapsed().as_nanos() as u64,
                _ => return EINVAL,
            };
            let Some((data, _)) = memory(&mut caller) else {
                return EFAULT;
            };
            match data.get_mut(out as usize..out as usize + 8) {
                Some(slot) => {
                    slot.copy_from_slice(&nanos.to_le_bytes());
                    ESUCCESS
                }
                None => EFAULT,
            }
        },
    )?;
    linker.func_wrap_async(
        M,
        "random_get",
        |mut caller: Caller<'_, RunState>, (buf, len): (u32, u32)| {
            Box::new(async move { random_get(&mut caller, buf, len).await })
        },
    )?;
    linker.func_wrap(M, "sched_yield", |_: Caller<'_, RunState>| -> i32 {
        ESUCCESS
    })?;
    linker.func_wrap(
        M,
        "fd_fdstat_get",
        |_: Caller<'_, RunState>, _: i32, _: u32| -> i32 { EBADF },
    )?;
    Ok(())
}

/// Fills `len` bytes at `buf` from the system's random source, [`RANDOM_CHUNK_BYTES`] at a time, yielding
/// to the thread's other work (RPC, other invocations, the time budget's timer) between two chunks. `EIO`
/// when the system's source fails: never bytes of lesser quality.
async fn random_get(caller: &mut Caller<'_, RunState>, buf: u32, len: u32) -> i32 {
    let (start, len) = (buf as usize, len as usize);
    let Some(end) = start.checked_add(len) else {
        return EFAULT;
    };
    match memory(caller) {
        Some((data, _)) if end <= data.len() => {}
        _ => return EFAULT,
    }
    let mut at = start;
    while at < end {
        let chunk_end = end.min(at + RANDOM_CHUNK_BYTES);
        let Some((data, _)) = memory(caller) else {
            return EFAULT;
        };
        let Some(target) = data.get_mut(at..chunk_end) else {
            return EFAULT;
        };
        if let Err(e) = getrandom::fill(target) {
            tracing::warn!("random_get: the system's random source failed: {e}");
            return EIO;
        }
        at = chunk_end;
        if at < end {
            tokio::task::yield_now().await;
        }
    }
    ESUCCESS
}
