//! The RTOS layer's portable scenarios, on a board, all in one boot: the same source as the
//! simulator's `rtos-selftest` runs (`crates/harness/src/bin/rtos_selftest/portable.rs`,
//! included here by path): pre-emption, time slicing, delays, queues, notifications, mutex
//! contention, heap accounting, alignment, tasks that return, and a handle kept after its task
//! ended.
//!
//! A board has one "process" per boot, so the scenarios run one after another in the
//! application task, each printing `PASS <name> ...` or `FAIL <name>: <why>`; the last line
//! counts them, and the exit status is 0 only if every one passed.
//!
//! ```sh
//! cargo run --profile board --target thumbv7em-none-eabihf --example board_rtos_scenarios
//! ```
//!
//! `BOARD_SCENARIO=<name>` at build time runs one scenario alone; three of them exist only that
//! way, because they end the boot on purpose: `task_panic` (the panic handler must print the
//! task and exit with 101), `kernel_assert` (a failed `configASSERT` exits with 70), both
//! portable, and the board's own `stack_overflow` (the kernel's check must name the task and
//! exit with 70).
//!
//! Not a product binary. On a host this example only says where it runs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "board_rtos_scenarios runs on a board: cargo run --profile board --target \
         thumbv7em-none-eabihf --example board_rtos_scenarios"
    );
}

#[cfg(target_os = "none")]
#[cortex_m_rt::entry]
fn main() -> ! {
    board::main()
}

/// What a scenario returns (as in the harness): details on success, or why it failed.
#[cfg(target_os = "none")]
type Outcome = Result<alloc::string::String, alloc::string::String>;

/// Fails with `why()` unless `condition` holds (as in the harness).
#[cfg(target_os = "none")]
fn check(
    condition: bool,
    why: impl FnOnce() -> alloc::string::String,
) -> Result<(), alloc::string::String> {
    if condition { Ok(()) } else { Err(why()) }
}

/// The portable scenarios: one source for the simulators and the boards.
#[cfg(target_os = "none")]
#[path = "../crates/harness/src/bin/rtos_selftest/portable.rs"]
mod portable;

#[cfg(target_os = "none")]
mod board {
    use alloc::format;
    use alloc::vec::Vec;
    use core::time::Duration;

    use freertos_https::board::{self as boards, mps2_an386};
    use freertos_https::rtos::console::{self, Stream};
    use freertos_https::rtos::scheduler;
    use freertos_https::rtos::task;
    use freertos_https::rtos::time;

    use super::Outcome;
    use super::portable::{self, Scenario, priority};

    /// The board's own scenarios, run after the portable ones.
    const BOARD_SCENARIOS: &[Scenario] = &[
        ("p256_multiplier", p256_multiplier),
        ("rsa_exponentiation", rsa_exponentiation),
    ];

    /// Scenarios that end the boot, run only when chosen by `BOARD_SCENARIO`: the portable
    /// ones, and the board's own.
    const BOARD_ENDING_SCENARIOS: &[Scenario] = &[("stack_overflow", stack_overflow)];

    /// Above every task a scenario spawns, so it can always observe them (as in
    /// `rtos-selftest`).
    const APP_PRIORITY: u8 = 8;

    pub fn main() -> ! {
        let _ = boards::install(&mps2_an386::SERVICES);
        let services = boards::services();
        let ran = scheduler::run_application(priority(APP_PRIORITY), || {
            let chosen: Vec<&Scenario> = match option_env!("BOARD_SCENARIO") {
                None => portable::SCENARIOS.iter().chain(BOARD_SCENARIOS).collect(),
                Some(wanted) => portable::SCENARIOS
                    .iter()
                    .chain(BOARD_SCENARIOS)
                    .chain(portable::ENDING_SCENARIOS)
                    .chain(BOARD_ENDING_SCENARIOS)
                    .filter(|(name, _)| *name == wanted)
                    .collect(),
            };
            if chosen.is_empty() {
                line(format_args!(
                    "FAIL no scenario is named {:?}",
                    option_env!("BOARD_SCENARIO")
                ));
                return 2;
            }
            let mut failed = 0;
            for (name, scenario) in &chosen {
                match scenario(()) {
                    Ok(details) => line(format_args!("PASS {name} {details}")),
                    Err(why) => {
                        failed += 1;
                        line(format_args!("FAIL {name}: {why}"));
                    }
                }
            }
            line(format_args!(
                "scenarios: {} passed, {failed} failed",
                chosen.len() - failed
            ));
            i32::from(failed > 0)
        });
        match ran {
            Ok(status) => services.exit(status),
            Err(error) => {
                line(format_args!("FAIL start: {error}"));
                services.exit(1)
            }
        }
    }

    fn line(args: core::fmt::Arguments<'_>) {
        console::write_line(Stream::Stdout, args);
    }

    /// The Cortex-M4 P-256 multiplication behind Mbed TLS's hook against Mbed TLS's own, on
    /// random scalars, by the generator and by random points.
    fn p256_multiplier(_: ()) -> Outcome {
        const CASES: u32 = 24;
        check_with_board_entropy(|entropy| {
            freertos_https::tls::check_ecp_hook_against_mbed_tls(CASES, entropy)
        })?;
        Ok(format!(
            "{CASES} random scalars x (generator, random point) agree"
        ))
    }

    /// The stack exponentiation behind Mbed TLS's RSA (its hook, and the linker's wrap of the
    /// public operation) against Mbed TLS's own, on random operands of RSA's shapes.
    fn rsa_exponentiation(_: ()) -> Outcome {
        const CASES: u32 = 3;
        check_with_board_entropy(|entropy| {
            freertos_https::tls::check_exp_mod_hook_against_mbed_tls(CASES, entropy)
        })?;
        Ok(format!(
            "{CASES} cases per modulus size (97 to 2048 bits) agree, the public operation \
             routed through the wrap"
        ))
    }

    /// Sets Mbed TLS up and runs one of the TLS layer's self-checks with the board's entropy
    /// as its random source; a failed entropy read fails the check too.
    fn check_with_board_entropy<E: core::fmt::Display>(
        check: impl FnOnce(&mut dyn FnMut(&mut [u8])) -> Result<(), E>,
    ) -> Result<(), alloc::string::String> {
        freertos_https::tls::initialise().map_err(|error| format!("TLS set-up: {error}"))?;
        let mut entropy_failed = false;
        let mut entropy = |buffer: &mut [u8]| {
            entropy_failed |= boards::fill_entropy(buffer).is_err();
        };
        let checked = check(&mut entropy);
        if entropy_failed {
            return Err("the board's entropy source failed".into());
        }
        checked.map_err(|error| format!("{error}"))
    }

    /// Board only (the simulators' tasks run on host stacks): a task recurses on a 1 KiB
    /// stack, switching at every level; the kernel's check at the switch finds the overflow,
    /// and the board's hook ends the boot with 70.
    fn stack_overflow(_: ()) -> Outcome {
        fn deeper(level: u32) -> u32 {
            let frame = core::hint::black_box([level as u8; 96]);
            time::delay(Duration::from_millis(1));
            if level == 1000 {
                return u32::from(frame[0]);
            }
            deeper(level + 1) + u32::from(frame[95])
        }
        let handle = task::TaskBuilder::new("deep")
            .priority(priority(4))
            .stack_bytes(1024)
            .spawn(|| {
                core::hint::black_box(deeper(0));
            })
            .map_err(|error| format!("spawn deep: {error}"))?;
        let start = time::Instant::now();
        while handle.is_running() && start.elapsed() < Duration::from_secs(5) {
            time::delay(Duration::from_millis(1));
        }
        Err("1000 levels of 96 B fitted in a 1 KiB stack".into())
    }
}
