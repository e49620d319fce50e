//! A `tracing-subscriber` [`Layer`] that exports an application's events scrubbed (cargo
//! feature `tracing-scrub`).
//!
//! A layer cannot rewrite what other layers see, so this one is itself the exporter: it
//! scrubs each event's fields and the fields of the spans around it with a [`Scrubber`],
//! drops sampled-out high-frequency events, and hands what is left to a [`ScrubSink`] (for
//! instance [`JsonLinesSink`], one JSON object per line). Install it *instead of* a formatting
//! layer that would print the raw fields.
//!
//! ```
//! use sealwire::hygiene::{JsonLinesSink, ScrubLayer, ScrubMode, Scrubber};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # fn main() -> sealwire::Result<()> {
//! let layer = ScrubLayer::new(Scrubber::new(ScrubMode::Hash), JsonLinesSink::new(std::io::sink()))
//!     .with_sampling(0.1, ["app.message"])?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(peer_id = "did:key:z6Mk…", size = 1234_u64, "delivered"); // peer_id hashed, size bucketed
//! });
//! # Ok(()) }
//! ```

use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::{EventSampler, Scrubbed, Scrubber};

/// An event after scrubbing.
#[derive(Debug, Clone)]
pub struct ScrubbedEvent<'a> {
    /// The event's level.
    pub level: Level,
    /// The event's target (usually its module path).
    pub target: &'a str,
    /// The event's name (`event file:line` unless the macro named it).
    pub name: &'a str,
    /// Fields kept, in the order recorded, with scrubbed values.
    pub fields: Vec<(&'static str, String)>,
    /// The spans the event happened in, outermost first, with their scrubbed fields.
    pub spans: Vec<ScrubbedSpan>,
}

/// A span's name and scrubbed fields.
#[derive(Debug, Clone, Default)]
pub struct ScrubbedSpan {
    /// The span's name.
    pub name: &'static str,
    /// Fields kept, with scrubbed values.
    pub fields: Vec<(&'static str, String)>,
}

/// Where a [`ScrubLayer`] delivers scrubbed events.
pub trait ScrubSink: Send + Sync + 'static {
    /// Deliver one event. Must not panic; errors are the sink's to swallow.
    fn emit(&self, event: &ScrubbedEvent<'_>);
}

/// Writes each event as one JSON object on its own line:
/// `{"level":"INFO","target":"…","name":"…","fields":{…},"spans":[{"name":"…","fields":{…}}]}`.
#[derive(Debug)]
pub struct JsonLinesSink<W: Write + Send + 'static> {
    out: Mutex<W>,
}

impl<W: Write + Send + 'static> JsonLinesSink<W> {
    /// A sink writing to `out` (a file, `std::io::stderr()`, a buffer).
    pub fn new(out: W) -> Self {
        Self { out: Mutex::new(out) }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        match self.out.into_inner() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn json_fields(fields: &[(&'static str, String)]) -> serde_json::Value {
    fields.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>().into()
}

impl ScrubbedEvent<'_> {
    /// The JSON object [`JsonLinesSink`] writes (without the newline): `level`, `target`,
    /// `name`, `fields` (name → scrubbed text) and `spans` (outermost first, each with its
    /// `name` and `fields`).
    pub fn to_json(&self) -> String {
        let spans: Vec<serde_json::Value> =
            self.spans.iter().map(|s| serde_json::json!({"name": s.name, "fields": json_fields(&s.fields)})).collect();
        serde_json::json!({
            "level": self.level.as_str(),
            "target": self.target,
            "name": self.name,
            "fields": json_fields(&self.fields),
            "spans": spans,
        })
        .to_string()
    }
}

impl<W: Write + Send + 'static> ScrubSink for JsonLinesSink<W> {
    fn emit(&self, event: &ScrubbedEvent<'_>) {
        let mut line = event.to_json();
        line.push('\n');
        let mut out = match self.out.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = out.write_all(line.as_bytes());
    }
}

/// The scrubbing layer (module docs).
#[derive(Debug)]
pub struct ScrubLayer<K: ScrubSink> {
    scrubber: Scrubber,
    sampler: EventSampler,
    sink: K,
}

impl<K: ScrubSink> ScrubLayer<K> {
    /// Scrub with `scrubber`, keep every event, deliver to `sink`.
    pub fn new(scrubber: Scrubber, sink: K) -> Self {
        Self { scrubber, sampler: EventSampler::keep_all(), sink }
    }

    /// Keep only `rate` (0 ..= 1) of the high-frequency events: those whose name or target
    /// starts with one of `prefixes`. Other events are always kept. `InvalidParameter` for a
    /// rate outside 0 ..= 1.
    pub fn with_sampling<I, S>(mut self, rate: f64, prefixes: I) -> crate::Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sampler = EventSampler::new(rate, prefixes)?;
        Ok(self)
    }

    /// The sink.
    pub fn sink(&self) -> &K {
        &self.sink
    }

    fn sampled_out(&self, name: &str, target: &str) -> bool {
        !self.sampler.keep(name, Some(target))
    }
}

struct Collect<'a> {
    scrubber: &'a Scrubber,
    fields: &'a mut Vec<(&'static str, String)>,
}

impl Collect<'_> {
    fn put(&mut self, field: &Field, scrubbed: Scrubbed<'_>) {
        // A field recorded again (span `record`) replaces its earlier value.
        self.fields.retain(|(k, _)| *k != field.name());
        if let Scrubbed::Keep(v) = scrubbed {
            self.fields.push((field.name(), v.into_owned()));
        }
    }
}

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let s = self.scrubber.scrub(field.name(), value);
        self.put(field, s);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let s = self.scrubber.scrub_u64(field.name(), value);
        self.put(field, s);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        let s = match u64::try_from(value) {
            Ok(v) => self.scrubber.scrub_u64(field.name(), v),
            Err(_) => self.scrubber.scrub(field.name(), &value.to_string()).into_owned_value(),
        };
        self.put(field, s);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        let s = self.scrubber.scrub(field.name(), if value { "true" } else { "false" });
        self.put(field, s);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        let s = self.scrubber.scrub(field.name(), &value.to_string()).into_owned_value();
        self.put(field, s);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
        let text = format!("{value:?}");
        let s = self.scrubber.scrub(field.name(), &text).into_owned_value();
        self.put(field, s);
    }
}

impl Scrubbed<'_> {
    fn into_owned_value(self) -> Scrubbed<'static> {
        match self {
            Scrubbed::Keep(v) => Scrubbed::Keep(std::borrow::Cow::Owned(v.into_owned())),
            Scrubbed::Drop => Scrubbed::Drop,
        }
    }
}

impl<S, K> Layer<S> for ScrubLayer<K>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    K: ScrubSink,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut scrubbed = ScrubbedSpan { name: attrs.metadata().name(), fields: Vec::new() };
        attrs.record(&mut Collect { scrubber: &self.scrubber, fields: &mut scrubbed.fields });
        span.extensions_mut().insert(scrubbed);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(scrubbed) = ext.get_mut::<ScrubbedSpan>() {
            values.record(&mut Collect { scrubber: &self.scrubber, fields: &mut scrubbed.fields });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if self.sampled_out(meta.name(), meta.target()) {
            return;
        }
        let mut fields = Vec::new();
        event.record(&mut Collect { scrubber: &self.scrubber, fields: &mut fields });
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().filter_map(|s| s.extensions().get::<ScrubbedSpan>().cloned()).collect())
            .unwrap_or_default();
        self.sink.emit(&ScrubbedEvent { level: *meta.level(), target: meta.target(), name: meta.name(), fields, spans });
    }
}
