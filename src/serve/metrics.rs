//! The warm runtime's metrics, in the Prometheus text format (through `prometheus-client`): invocations by
//! function and outcome with their durations, IOmod calls by method path and outcome with their
//! durations, what is in flight, IOmod restarts and registrations.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::host::{CallObserver, CallOutcome};
use crate::supervisor::ProcessStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InvocationLabels {
    function: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabel {
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    path: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabel {
    path: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IomodLabel {
    coordinates: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 50 µs to about 52 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 21))
}

/// The runtime's metrics. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    invocations: Family<InvocationLabels, Counter>,
    invocation_seconds: HistogramFamily<FunctionLabel>,
    invocations_in_flight: Gauge,
    calls: Family<CallLabels, Counter>,
    call_seconds: HistogramFamily<PathLabel>,
    calls_in_flight: Gauge,
    registered: Family<IomodLabel, Gauge>,
}

impl Metrics {
    /// The metrics, with the restart counts of `processes` read at each scrape.
    pub fn new(processes: Vec<(String, Arc<ProcessStats>)>) -> Metrics {
        let mut registry = Registry::default();
        let invocations = Family::<InvocationLabels, Counter>::default();
        registry.register(
            "iomod_invocations",
            "Function invocations, by function and outcome (ok, error, timeout, too_large, saturated)",
            invocations.clone(),
        );
        let invocation_seconds: HistogramFamily<FunctionLabel> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "iomod_invocation_duration_seconds",
            "How long function invocations took, from start to output",
            invocation_seconds.clone(),
        );
        let invocations_in_flight = Gauge::default();
        registry.register(
            "iomod_invocations_in_flight",
            "Function invocations running now",
            invocations_in_flight.clone(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "iomod_calls",
            "IOmod calls made by functions, by method path and outcome (ok, or the error code)",
            calls.clone(),
        );
        let call_seconds: HistogramFamily<PathLabel> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "iomod_call_duration_seconds",
            "How long IOmod calls took, as the function saw them",
            call_seconds.clone(),
        );
        let calls_in_flight = Gauge::default();
        registry.register(
            "iomod_calls_in_flight",
            "IOmod calls waiting for their answer now",
            calls_in_flight.clone(),
        );
        let registered = Family::<IomodLabel, Gauge>::default();
        registry.register(
            "iomod_registered",
            "1 while the IOmod is registered and healthy, 0 otherwise",
            registered.clone(),
        );
        registry.register_collector(Box::new(Restarts(processes)));
        Metrics {
            registry,
            invocations,
            invocation_seconds,
            invocations_in_flight,
            calls,
            call_seconds,
            calls_in_flight,
            registered,
        }
    }

    /// An invocation of `function` started.
    pub fn invocation_started(&self) {
        self.invocations_in_flight.inc();
    }

    /// An invocation of `function` that started ended with `outcome` after `elapsed`.
    pub fn invocation_finished(&self, function: &str, outcome: &'static str, elapsed: Duration) {
        self.invocations_in_flight.dec();
        self.invocation_refused(function, outcome);
        self.invocation_seconds
            .get_or_create(&FunctionLabel {
                function: function.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// An invocation of `function` was refused before it started (too large, saturated).
    pub fn invocation_refused(&self, function: &str, outcome: &'static str) {
        self.invocations
            .get_or_create(&InvocationLabels {
                function: function.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Sets whether the IOmod `coordinates` is registered and healthy.
    pub fn set_registered(&self, coordinates: &str, ready: bool) {
        self.registered
            .get_or_create(&IomodLabel {
                coordinates: coordinates.to_owned(),
            })
            .set(i64::from(ready));
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

impl CallObserver for Metrics {
    fn call_started(&self, _path: &str) {
        self.calls_in_flight.inc();
    }

    fn call_finished(&self, path: &str, outcome: CallOutcome, elapsed: Duration) {
        self.calls_in_flight.dec();
        self.calls
            .get_or_create(&CallLabels {
                path: path.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.call_seconds
            .get_or_create(&PathLabel {
                path: path.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// `iomod_restarts_total`: how often the supervisor restarted each IOmod, read at each scrape.
#[derive(Debug)]
struct Restarts(Vec<(String, Arc<ProcessStats>)>);

impl prometheus_client::collector::Collector for Restarts {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "iomod_restarts",
            "How often the supervisor restarted the IOmod after it exited",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (coordinates, stats) in &self.0 {
            let restarts = stats.starts.load(Ordering::Relaxed).saturating_sub(1);
            let labels = IomodLabel {
                coordinates: coordinates.clone(),
            };
            let encoder: MetricEncoder<'_> = family.encode_family(&labels)?;
            ConstCounter::new(restarts).encode(encoder)?;
        }
        Ok(())
    }
}
