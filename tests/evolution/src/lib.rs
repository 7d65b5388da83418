//! Every version of an IOmod whose manifest evolves (`manifests/v1.toml`, `manifests/v2.toml`, and the
//! breaking changes of `src/cases.rs`), its host skeleton generated and compiled, and implementations of v1
//! and v2. `evolving-iomod VERSION` serves one of them.

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

/// The breaking changes made to v1 (see `src/cases.rs`).
pub mod cases {
    include!("cases.rs");
}

/// Version 1.0.0.
#[derive(Debug, Default)]
pub struct V1;

impl v1::evolving::Evolving for V1 {
    async fn get(
        &self,
        input: v1::evolving::GetInput,
    ) -> Result<v1::evolving::Item, v1::evolving::GetError> {
        use v1::evolving::{GetError, Item, NotFound};
        match input.id.as_str() {
            "missing" => Err(GetError::NotFound(NotFound { id: input.id })),
            _ => Ok(Item {
                id: input.id,
                count: 7,
            }),
        }
    }

    async fn paint(
        &self,
        input: v1::evolving::PaintInput,
    ) -> Result<v1::evolving::PaintOutput, v1::evolving::PaintError> {
        // Echoes what it read: an open enum value it does not list comes back as it came.
        Ok(v1::evolving::PaintOutput {
            shape: input.shape,
            color: input.color,
            status: input.status,
        })
    }

    async fn label(
        &self,
        input: v1::evolving::LabelInput,
    ) -> Result<v1::evolving::LabelOutput, v1::evolving::LabelError> {
        Ok(v1::evolving::LabelOutput {
            name: input.name.to_uppercase(),
        })
    }
}

/// Version 1.1.0: answers with what v1 does not know when asked to.
#[derive(Debug, Default)]
pub struct V2;

impl v2::evolving::Evolving for V2 {
    async fn get(
        &self,
        input: v2::evolving::GetInput,
    ) -> Result<v2::evolving::Item, v2::evolving::GetError> {
        use v2::evolving::{GetError, Item, Locked, NotFound};
        match input.id.as_str() {
            "missing" => Err(GetError::NotFound(NotFound { id: input.id })),
            "locked" => Err(GetError::Locked(Locked {
                until: "tomorrow".to_owned(),
            })),
            _ => {
                // `verbose` is new: a v1 guest does not send it, and it reads as `None`.
                let tag = match input.verbose {
                    Some(true) => "verbose",
                    Some(false) => "quiet",
                    None => "unset",
                };
                Ok(Item {
                    id: Some(input.id),
                    count: 7,
                    tags: vec![tag.to_owned()],
                })
            }
        }
    }

    async fn paint(
        &self,
        input: v2::evolving::PaintInput,
    ) -> Result<v2::evolving::PaintOutput, v2::evolving::PaintError> {
        use v2::evolving::{Color, PaintOutput, Shape, Status};
        // A circle of radius 98, 97 or 96 asks for an answer with a value v1 does not know.
        let mut output = PaintOutput {
            shape: input.shape,
            color: input.color,
            status: input.status,
        };
        let radius = match output.shape {
            Shape::Circle(r) => r,
            _ => 0.0,
        };
        if radius == 98.0 {
            output.shape = Shape::Square(radius);
        } else if radius == 97.0 {
            output.color = Color::Blue;
        } else if radius == 96.0 {
            output.status = Status::Archived;
        }
        Ok(output)
    }

    async fn label(
        &self,
        input: v2::evolving::LabelInput,
    ) -> Result<v2::evolving::LabelOutput, v2::evolving::LabelError> {
        Ok(v2::evolving::LabelOutput {
            title: input.title.to_uppercase(),
        })
    }

    async fn ping(
        &self,
        input: v2::evolving::PingInput,
    ) -> Result<v2::evolving::PingOutput, v2::evolving::PingError> {
        Ok(v2::evolving::PingOutput { pong: input.text })
    }
}

/// Serves version `name` (`v1`, `v2`, or a breaking change's name) until the process is stopped; `None`
/// when there is no such version.
pub async fn serve(name: &str) -> Option<Result<(), iomod_sdk::Error>> {
    match name {
        "v1" => Some(iomod_sdk::serve(v1::evolving::service(V1)).await),
        "v2" => Some(iomod_sdk::serve(v2::evolving::service(V2)).await),
        other => serve_breaking(other).await,
    }
}
