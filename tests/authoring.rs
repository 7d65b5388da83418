//! `docs/authoring.md`, followed literally: every command in its `sh` blocks runs, in order, in a
//! temporary directory outside the repository (the built `iomod` first on `PATH`, as for a user who
//! installed it). A command the test runs must appear in the document word for word, and every command
//! of the document is run, so the two cannot drift apart.
//!
//! The only addition is a cache: the new crates' `target` directories are links to one directory under
//! this workspace's `target/`, so the crates' dependencies compile once per machine, not once per run.
//! The time from `iomod new` to the first answered call is printed (`--nocapture` shows it).
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Process, TempDir};

const DOC: &str = include_str!("../docs/authoring.md");

/// The commands of the document's `sh` blocks, in order.
fn doc_commands() -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in DOC.lines() {
        match (in_block, line.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, command) if !command.is_empty() => commands.push(command.to_owned()),
            _ => {}
        }
    }
    commands
}

/// Runs the document's commands one by one, each checked against the next command of the document.
struct Walkthrough {
    commands: std::vec::IntoIter<String>,
    cwd: PathBuf,
    path_env: std::ffi::OsString,
    home: TempDir,
    background: Vec<Process>,
}

impl Walkthrough {
    fn new() -> Self {
        let home = TempDir::new();
        let iomod_dir = common::bin("iomod").parent().unwrap().to_owned();
        let mut paths = vec![iomod_dir];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Self {
            commands: doc_commands().into_iter(),
            cwd: home.0.clone(),
            path_env: std::env::join_paths(paths).unwrap(),
            home,
            background: Vec::new(),
        }
    }

    /// The next command of the document, which must be `expected`.
    fn next(&mut self, expected: &str) -> String {
        let command = self.commands.next().unwrap_or_else(|| {
            panic!("docs/authoring.md has no more commands; the test expected `{expected}`")
        });
        assert_eq!(command, expected, "docs/authoring.md and the test disagree");
        eprintln!("$ {command}");
        command
    }

    fn shell(&self, command: &str) -> Command {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(command)
            .current_dir(&self.cwd)
            .env("PATH", &self.path_env)
            .env("XDG_RUNTIME_DIR", self.home.0.join("run"))
            .env("IOMOD_CACHE_DIR", self.home.0.join("module-cache"))
            .env_remove("IOMOD_REGISTRY")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS");
        shell
    }

    /// Runs the next command to completion; it must succeed. Returns its output.
    fn run(&mut self, expected: &str) -> Output {
        let command = self.next(expected);
        if let Some(dir) = command.strip_prefix("cd ") {
            self.cwd = self.cwd.join(dir);
            return Output {
                status: std::process::ExitStatus::default(),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
        }
        let output = self.shell(&command).output().unwrap();
        assert!(
            output.status.success(),
            "`{command}` failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Starts the next command, which ends with `&`, in the background (stopped by its pid at the end).
    fn start(&mut self, expected: &str) {
        let command = self.next(expected);
        let command = command.strip_suffix('&').unwrap().trim().to_owned();
        let child: Child = self
            .shell(&format!("exec {command}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.background.push(Process { child });
    }

    /// Makes `dir/target` a link to a directory kept across runs, shared by the new crates.
    fn cache_target(&self, dir: &str) {
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/authoring");
        std::fs::create_dir_all(&cache).unwrap();
        std::os::unix::fs::symlink(&cache, self.cwd.join(dir).join("target")).unwrap();
    }

    fn finish(mut self) {
        if let Some(extra) = self.commands.next() {
            panic!("docs/authoring.md has a command the test did not run: `{extra}`");
        }
        for mut process in self.background.drain(..).rev() {
            process.signal("TERM");
            assert!(
                process.wait_exit(Duration::from_secs(10)).is_some(),
                "a background command did not stop on SIGTERM"
            );
        }
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until `iomod ls` lists `coordinates` as ready.
fn wait_registered(walk: &Walkthrough, coordinates: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = walk.shell("iomod ls").output().unwrap();
        let listing = text(&output);
        if output.status.success() && listing.contains(coordinates) && listing.contains("ready") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{coordinates} did not register within 30 s: {listing}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_authoring_guide_works_as_written() {
    let mut walk = Walkthrough::new();
    let started = Instant::now();

    // 1. A new IOmod.
    walk.run("iomod new iomod greeter");
    walk.cache_target("greeter");
    // 2. Its tests, then its build.
    walk.run("cd greeter");
    let tests = walk.run("cargo test");
    assert!(
        String::from_utf8_lossy(&tests.stderr).contains("Running tests/greet.rs"),
        "the IOmod's own test ran"
    );
    walk.run("cargo build");
    assert!(
        walk.cwd.join("guest/Cargo.toml").is_file(),
        "the build wrote guest/"
    );
    // 3. Against a registry.
    walk.start("iomod registry &");
    walk.start("target/debug/greeter &");
    wait_registered(&walk, "example.demo.greeter");
    let answer = walk.run(r#"iomod call example.demo.greeter.greet '{"name": "Ada"}'"#);
    let first_call = started.elapsed();
    eprintln!(
        "authoring: `iomod new` to the first answered call in {:.1} s",
        first_call.as_secs_f64()
    );
    let answer: serde_json::Value = serde_json::from_slice(&answer.stdout).unwrap();
    assert_eq!(answer, serde_json::json!({"message": "Hello, Ada!"}));
    let listing = walk.run("iomod ls");
    assert!(text(&listing).contains(".greet"), "{}", text(&listing));
    let named = walk
        .shell(r#"iomod call example.demo.greeter.greet '{"name": ""}'"#)
        .output()
        .unwrap();
    assert_eq!(named.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&named.stderr).contains("EmptyName"));

    // 4. A function calling it.
    walk.run("cd ..");
    walk.run("iomod new function hello --iomod greeter");
    walk.cache_target("hello");
    walk.run("cd hello");
    let tests = walk.run("cargo test");
    let stderr = String::from_utf8_lossy(&tests.stderr);
    assert!(stderr.contains("Running tests/native.rs"), "{stderr}");
    walk.run("cargo build --release --target wasm32-unknown-unknown");
    let output = walk.run(r#"iomod run function.toml --input '{"name": "Ada"}'"#);
    assert_eq!(text(&output), r#"{"ok":{"message":"Hello, Ada!"}}"#);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("iomod=example.demo.greeter"),
        "the IOmod's logs reach the log, tagged"
    );
    walk.finish();
    eprintln!(
        "authoring: `iomod new` to the first answered call in {:.1} s; the whole guide in {:.1} s",
        first_call.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_guide_runs_every_command_it_shows() {
    // The walkthrough above consumes the commands in this order; an edit to the document that adds,
    // removes or reorders a command fails here at once, before the slow test runs.
    let expected = [
        "iomod new iomod greeter",
        "cd greeter",
        "cargo test",
        "cargo build",
        "iomod registry &",
        "target/debug/greeter &",
        r#"iomod call example.demo.greeter.greet '{"name": "Ada"}'"#,
        "iomod ls",
        "cd ..",
        "iomod new function hello --iomod greeter",
        "cd hello",
        "cargo test",
        "cargo build --release --target wasm32-unknown-unknown",
        r#"iomod run function.toml --input '{"name": "Ada"}'"#,
    ];
    assert_eq!(doc_commands(), expected);
}
