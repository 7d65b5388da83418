//! `iomod new`: scaffold an IOmod crate, or a function crate calling an IOmod.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use iomod::scaffold::{self, Crates};

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// An IOmod crate: iomod.toml with an example method and named error, build.rs, the implementation,
    /// a test calling it in process, a README.
    Iomod {
        /// The crate's name (lowercase words joined by `-` or `_`).
        name: String,
        /// Where to create it [default: ./NAME]; must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The IOmod's coordinates [default: example.demo.NAME].
        #[arg(long)]
        coordinates: Option<String>,
        #[command(flatten)]
        crates: CratesArg,
    },
    /// A function crate calling an IOmod through its generated guest crate: function.toml, the function,
    /// a native test with an in-process stand-in for the IOmod.
    Function {
        /// The crate's name (lowercase words joined by `-` or `_`).
        name: String,
        /// The IOmod crate's directory (built once, so its guest/ crate exists).
        #[arg(long)]
        iomod: PathBuf,
        /// Where to create it [default: ./NAME]; must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[command(flatten)]
        crates: CratesArg,
    },
}

#[derive(clap::Args, Debug)]
struct CratesArg {
    /// Where the new crate gets iomod-sdk and iomod-codegen: `path:DIR` (a checkout of the iomod
    /// repository), `git:URL[#REV]`, `registry` (crates.io, this tool's version) or `registry:VERSION`
    /// [default: the checkout this tool was built from while it exists, else `registry`].
    #[arg(long, value_name = "SOURCE")]
    crates: Option<String>,
}

impl CratesArg {
    fn source(&self) -> anyhow::Result<Crates> {
        match &self.crates {
            Some(spec) => Crates::parse(spec),
            None => Ok(Crates::default_source()),
        }
    }
}

pub fn main(args: NewArgs) -> anyhow::Result<()> {
    let (created, next) = match args.what {
        What::Iomod {
            name,
            dir,
            coordinates,
            crates,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let created =
                scaffold::new_iomod(&name, &dir, coordinates.as_deref(), &crates.source()?)?;
            let next = format!(
                "cd {}\ncargo test                 # the methods, in process\ncargo build                # the IOmod and its guest crate (guest/)\n\
                 iomod new function my-function --iomod {}",
                dir.display(),
                dir.display()
            );
            (created, next)
        }
        What::Function {
            name,
            iomod,
            dir,
            crates,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let created = scaffold::new_function(&name, &dir, &iomod, &crates.source()?)?;
            let next = format!(
                "cd {}\ncargo test                 # natively, with a stand-in for the IOmod\n\
                 cargo build --release --target wasm32-unknown-unknown\niomod run function.toml --input '..'",
                dir.display()
            );
            (created, next)
        }
    };
    println!("created {}:", created.dir.display());
    for file in &created.files {
        println!("  {}", file.display());
    }
    println!("\nnext:\n{next}");
    Ok(())
}
