//! Resources and data sources written against their own model types: the framework reads
//! the configuration, plan, prior state and private bytes into them before a step runs
//! and writes back what the step returns, so no step handles a raw `Value` or can forget
//! to read one. `typed` and `typed_data_source` register them as a `Resource` or
//! `DataSource`.

use std::sync::Arc;

use async_trait::async_trait;

use super::diag::{AttributePath, Diagnostics};
use super::model::{FromValue, IntoValue};
use super::resource::{refuse_newer_state, ApplyOutcome, DataSource, ReadOutcome, Resource};
use super::schema::Schema;
use super::value::Value;

/// A resource's model: one configuration, plan or state, read whole from its object.
pub trait Model: FromValue + IntoValue + Clone + PartialEq + Send + Sync + 'static {}

impl<T: FromValue + IntoValue + Clone + PartialEq + Send + Sync + 'static> Model for T {}

/// What a resource keeps in Terraform's private bytes for an instance, typed. No bytes at
/// all must decode as the default, and the default encode as no bytes.
pub trait Private: Default + Clone + PartialEq + Send + Sync + 'static {
    fn decode(bytes: &[u8]) -> Result<Self, Diagnostics>;
    fn encode(&self) -> Vec<u8>;
}

/// A resource that keeps nothing privately.
impl Private for () {
    fn decode(_bytes: &[u8]) -> Result<(), Diagnostics> {
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// What a plan is for, with the values that plan has, read.
pub enum PlanChange<'a, M, P> {
    /// The resource does not exist yet; `planned` may be changed (computed values filled).
    Create { config: &'a M, planned: &'a mut M },
    /// The resource exists and stays; `planned` and the record for the apply may change.
    Update {
        prior: &'a M,
        config: &'a M,
        planned: &'a mut M,
        private: &'a mut P,
    },
    /// The resource is to be destroyed: the plan stays null, but the resource may warn
    /// about or refuse the destroy.
    Destroy { prior: &'a M },
}

/// A step's answer: the state now true remotely (`None`: nothing exists) and what went
/// wrong. On failure the state is still the truth, so Terraform records no falsehood.
#[derive(Debug)]
pub struct StateOutcome<M> {
    pub state: Option<M>,
    pub diags: Diagnostics,
}

impl<M> StateOutcome<M> {
    pub fn new(state: Option<M>) -> StateOutcome<M> {
        StateOutcome {
            state,
            diags: Diagnostics::new(),
        }
    }

    /// What `result` holds; or None, its diagnostics kept here, for a step that then
    /// returns this outcome as it stands (`let Some(x) = out.or_keep(..) else { return
    /// out };`).
    pub fn or_keep<T>(&mut self, result: Result<T, Diagnostics>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.extend(d);
                None
            }
        }
    }
}

/// A resource over its model `Model` and private record `Private`. The framework reads
/// both before every step; a value that does not fit the model is an error at its
/// attribute's path, and then the step does not run (the prior state stays). Each step's
/// `private` is the record Terraform kept (for an apply: what its plan left); a record the
/// step changes is stored, one it leaves as it was keeps Terraform's bytes as they were.
#[async_trait]
pub trait TypedResource: Send + Sync + 'static {
    type Model: Model;
    type Private: Private;

    /// The full type name, e.g. `mrs_iam_sync`.
    fn type_name(&self) -> &str;
    fn schema(&self) -> &Schema;

    /// Checks across attributes, beyond each attribute's own validators. Values may be unknown.
    fn validate_config(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// The last step of planning (see [`PlanChange`]); may ask the network.
    async fn modify_plan(
        &self,
        _change: PlanChange<'_, Self::Model, Self::Private>,
        _diags: &mut Diagnostics,
    ) {
    }

    /// `private` starts empty: a new object has no record yet.
    async fn create(
        &self,
        planned: Self::Model,
        config: Self::Model,
        private: &mut Self::Private,
    ) -> StateOutcome<Self::Model>;

    /// A refresh must not fail on private bytes it cannot read: it then gets an empty
    /// record, and the bytes stay as they were unless it writes a record.
    async fn read(
        &self,
        state: Self::Model,
        private: &mut Self::Private,
    ) -> StateOutcome<Self::Model>;

    async fn update(
        &self,
        prior: Self::Model,
        planned: Self::Model,
        config: Self::Model,
        private: &mut Self::Private,
    ) -> StateOutcome<Self::Model>;

    /// Answers no state when deleted; the prior state when nothing was removed.
    async fn delete(
        &self,
        prior: Self::Model,
        private: &mut Self::Private,
    ) -> StateOutcome<Self::Model>;

    /// The state of an existing object named by an import ID, and its record; Terraform
    /// reads it next.
    async fn import(&self, _id: &str) -> Result<(Self::Model, Self::Private), Diagnostics> {
        Err(Diagnostics::single_error(
            "Import not supported",
            format!("The resource type {} cannot be imported.", self.type_name()),
        ))
    }

    /// Turns a stored state of schema `version` (already decoded with the current schema)
    /// into the current schema's state. Stays on values: an old state need not fit the
    /// current model.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostics> {
        refuse_newer_state(self.type_name(), self.schema(), version, state)
    }
}

/// A data source over its model: the configuration read in, the state written out.
#[async_trait]
pub trait TypedDataSource: Send + Sync + 'static {
    type Model: Model;

    fn type_name(&self) -> &str;
    fn schema(&self) -> &Schema;
    fn validate_config(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    /// `None` with an error: the read produced nothing.
    async fn read(&self, config: Self::Model) -> StateOutcome<Self::Model>;
}

/// `r` as the framework's `Resource`.
pub fn typed<R: TypedResource>(r: R) -> Arc<dyn Resource> {
    Arc::new(Typed(r))
}

/// `d` as the framework's `DataSource`.
pub fn typed_data_source<D: TypedDataSource>(d: D) -> Arc<dyn DataSource> {
    Arc::new(Typed(d))
}

struct Typed<T>(T);

/// Reads values one after another, keeping every error, so one answer lists them all.
#[derive(Default)]
struct Reader {
    diags: Diagnostics,
}

impl Reader {
    fn model<M: FromValue>(&mut self, v: &Value) -> Option<M> {
        self.keep(M::from_value(v, &AttributePath::root()))
    }

    fn private<P: Private>(&mut self, bytes: &[u8]) -> Option<P> {
        self.keep(P::decode(bytes))
    }

    fn keep<T>(&mut self, r: Result<T, Diagnostics>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(d) => {
                self.diags.extend(d);
                None
            }
        }
    }
}

/// Runs a cross-attribute check on the configuration read as a model. A configuration
/// that is null or wholly unknown has no attributes to check against each other.
fn validate_model<M: FromValue>(
    config: &Value,
    diags: &mut Diagnostics,
    check: impl FnOnce(&M, &mut Diagnostics),
) {
    if config.is_null() || config.is_unknown() {
        return;
    }
    let mut r = Reader::default();
    if let Some(config) = r.model(config) {
        check(&config, diags);
    }
    diags.extend(r.diags);
}

fn state_value<M: IntoValue>(state: Option<M>) -> Value {
    state.map_or(Value::Null, IntoValue::into_value)
}

/// Stores `after` only when the step changed the record.
fn store<P: Private>(bytes: &mut Vec<u8>, before: &P, after: &P) {
    if after != before {
        *bytes = after.encode();
    }
}

#[async_trait]
impl<R: TypedResource> Resource for Typed<R> {
    fn type_name(&self) -> &str {
        self.0.type_name()
    }

    fn schema(&self) -> &Schema {
        self.0.schema()
    }

    fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        validate_model(config, diags, |m, d| self.0.validate_config(m, d));
    }

    async fn modify_plan(
        &self,
        prior: &Value,
        config: &Value,
        planned: &mut Value,
        private: &mut Vec<u8>,
        diags: &mut Diagnostics,
    ) {
        let mut r = Reader::default();
        if planned.is_null() {
            if let Some(prior) = r.model::<R::Model>(prior) {
                self.0
                    .modify_plan(PlanChange::Destroy { prior: &prior }, diags)
                    .await;
            }
        } else if prior.is_null() {
            if let (Some(config), Some(mut plan)) = (r.model(config), r.model::<R::Model>(planned))
            {
                let before = plan.clone();
                let change = PlanChange::Create {
                    config: &config,
                    planned: &mut plan,
                };
                self.0.modify_plan(change, diags).await;
                // Unchanged, the plan keeps what the model does not hold (refinements).
                if plan != before {
                    *planned = plan.into_value();
                }
            }
        } else {
            let prior = r.model::<R::Model>(prior);
            let config = r.model(config);
            let plan = r.model::<R::Model>(planned);
            let record = r.private::<R::Private>(private);
            if let (Some(prior), Some(config), Some(mut plan), Some(mut record)) =
                (prior, config, plan, record)
            {
                let (plan_before, record_before) = (plan.clone(), record.clone());
                let change = PlanChange::Update {
                    prior: &prior,
                    config: &config,
                    planned: &mut plan,
                    private: &mut record,
                };
                self.0.modify_plan(change, diags).await;
                if plan != plan_before {
                    *planned = plan.into_value();
                }
                store(private, &record_before, &record);
            }
        }
        diags.extend(r.diags);
    }

    async fn create(&self, planned: &Value, config: &Value, private: &mut Vec<u8>) -> ApplyOutcome {
        let mut r = Reader::default();
        let (Some(planned), Some(config)) = (r.model(planned), r.model(config)) else {
            return ApplyOutcome {
                state: Value::Null,
                diags: r.diags,
            };
        };
        let mut record = R::Private::default();
        let out = self.0.create(planned, config, &mut record).await;
        *private = record.encode();
        ApplyOutcome {
            state: state_value(out.state),
            diags: out.diags,
        }
    }

    async fn read(&self, state: &Value, private: &mut Vec<u8>) -> ReadOutcome {
        let mut r = Reader::default();
        let Some(model) = r.model(state) else {
            return ReadOutcome {
                state: state.clone(),
                diags: r.diags,
            };
        };
        let before = R::Private::decode(private).unwrap_or_default();
        let mut record = before.clone();
        let out = self.0.read(model, &mut record).await;
        store(private, &before, &record);
        ReadOutcome {
            state: state_value(out.state),
            diags: out.diags,
        }
    }

    async fn update(
        &self,
        prior: &Value,
        planned: &Value,
        config: &Value,
        private: &mut Vec<u8>,
    ) -> ApplyOutcome {
        let mut r = Reader::default();
        let prior_model = r.model(prior);
        let planned = r.model(planned);
        let config = r.model(config);
        let record = r.private::<R::Private>(private);
        let (Some(prior_model), Some(planned), Some(config), Some(mut record)) =
            (prior_model, planned, config, record)
        else {
            return ApplyOutcome {
                state: prior.clone(),
                diags: r.diags,
            };
        };
        let before = record.clone();
        let out = self
            .0
            .update(prior_model, planned, config, &mut record)
            .await;
        store(private, &before, &record);
        ApplyOutcome {
            state: state_value(out.state),
            diags: out.diags,
        }
    }

    async fn delete(&self, prior: &Value, private: &mut Vec<u8>) -> ApplyOutcome {
        let mut r = Reader::default();
        let prior_model = r.model(prior);
        let record = r.private::<R::Private>(private);
        let (Some(prior_model), Some(mut record)) = (prior_model, record) else {
            return ApplyOutcome {
                state: prior.clone(),
                diags: r.diags,
            };
        };
        let before = record.clone();
        let out = self.0.delete(prior_model, &mut record).await;
        store(private, &before, &record);
        ApplyOutcome {
            state: state_value(out.state),
            diags: out.diags,
        }
    }

    async fn import(&self, id: &str, private: &mut Vec<u8>) -> Result<Value, Diagnostics> {
        let (state, record) = self.0.import(id).await?;
        *private = record.encode();
        Ok(state.into_value())
    }

    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostics> {
        self.0.upgrade_state(version, state)
    }
}

#[async_trait]
impl<D: TypedDataSource> DataSource for Typed<D> {
    fn type_name(&self) -> &str {
        self.0.type_name()
    }

    fn schema(&self) -> &Schema {
        self.0.schema()
    }

    fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        validate_model(config, diags, |m, d| self.0.validate_config(m, d));
    }

    async fn read(&self, config: &Value) -> ReadOutcome {
        let mut r = Reader::default();
        let Some(config) = r.model(config) else {
            return ReadOutcome {
                state: Value::Null,
                diags: r.diags,
            };
        };
        let out = self.0.read(config).await;
        ReadOutcome {
            state: state_value(out.state),
            diags: out.diags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::{model, Attr};
    use crate::framework::value::Refinements;
    use crate::framework::{Attribute, Block};

    model! {
        #[derive(Clone, Debug, Default, PartialEq)]
        struct Note {
            id: Attr<String> = "id",
            text: Attr<String> = "text",
        }
    }

    #[test]
    fn or_keep_passes_a_value_on_and_keeps_an_error_for_the_outcome() {
        let mut out = StateOutcome::new(Some(Note::default()));
        assert_eq!(out.or_keep(Ok::<u8, Diagnostics>(7)), Some(7));
        assert!(out.diags.is_empty());
        let failed: Result<u8, Diagnostics> = Err(Diagnostics::single_error("No cluster", "x"));
        assert_eq!(out.or_keep(failed), None);
        assert!(out.diags.has_errors());
        assert_eq!(
            out.state,
            Some(Note::default()),
            "the state it started from"
        );
    }

    /// Counts the steps that ran, in its private record.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Steps(u8);

    impl Private for Steps {
        fn decode(bytes: &[u8]) -> Result<Steps, Diagnostics> {
            match bytes {
                [] => Ok(Steps(0)),
                [n] => Ok(Steps(*n)),
                _ => Err(Diagnostics::single_error("Unreadable private state", "")),
            }
        }

        fn encode(&self) -> Vec<u8> {
            if self.0 == 0 {
                Vec::new()
            } else {
                vec![self.0]
            }
        }
    }

    struct Notes {
        schema: Schema,
    }

    #[async_trait]
    impl TypedResource for Notes {
        type Model = Note;
        type Private = Steps;

        fn type_name(&self) -> &str {
            "test_note"
        }

        fn schema(&self) -> &Schema {
            &self.schema
        }

        fn validate_config(&self, config: &Note, diags: &mut Diagnostics) {
            if config.text == Attr::Known("bad".into()) {
                diags.error("Bad text", "");
            }
        }

        async fn modify_plan(&self, change: PlanChange<'_, Note, Steps>, diags: &mut Diagnostics) {
            match change {
                PlanChange::Create { config, planned } => {
                    if let Some(t) = config.text.known() {
                        planned.id = Attr::Known(format!("id-{t}"));
                    }
                }
                PlanChange::Update { private, .. } => private.0 += 1,
                PlanChange::Destroy { prior } => {
                    if prior.text == Attr::Known("keep".into()) {
                        diags.error("Kept", "");
                    }
                }
            }
        }

        async fn create(&self, planned: Note, _config: Note, p: &mut Steps) -> StateOutcome<Note> {
            p.0 += 1;
            let vanish = planned.text == Attr::Known("vanish".into());
            StateOutcome::new((!vanish).then_some(planned))
        }

        async fn read(&self, state: Note, p: &mut Steps) -> StateOutcome<Note> {
            if state.text == Attr::Known("count".into()) {
                p.0 += 1;
            }
            StateOutcome::new(Some(state))
        }

        async fn update(
            &self,
            _prior: Note,
            planned: Note,
            _config: Note,
            p: &mut Steps,
        ) -> StateOutcome<Note> {
            p.0 += 1;
            StateOutcome::new(Some(planned))
        }

        async fn delete(&self, _prior: Note, _p: &mut Steps) -> StateOutcome<Note> {
            StateOutcome::new(None)
        }
    }

    fn notes() -> Arc<dyn Resource> {
        typed(Notes {
            schema: Schema::new(
                0,
                Block::new("a note")
                    .attribute(Attribute::string("id").computed())
                    .attribute(Attribute::string("text").optional()),
            ),
        })
    }

    fn note(id: Value, text: &str) -> Value {
        Value::object([("id", id), ("text", Value::string(text))])
    }

    fn summaries(d: &Diagnostics) -> Vec<String> {
        d.iter().map(|x| x.summary.clone()).collect()
    }

    #[tokio::test]
    async fn values_that_do_not_fit_the_model_are_errors_at_their_path_and_no_step_runs() {
        let r = notes();
        let bad = Value::object([("id", Value::Bool(true)), ("text", Value::string("t"))]);
        let text_bad = Value::object([("id", Value::Null), ("text", Value::int(1))]);
        let paths = |d: &Diagnostics| -> Vec<Option<AttributePath>> {
            d.iter().map(|x| x.path.clone()).collect()
        };
        let id = Some(AttributePath::attr("id"));
        let text = Some(AttributePath::attr("text"));

        let mut d = Diagnostics::new();
        r.validate_config(&text_bad, &mut d);
        assert_eq!(paths(&d), vec![text.clone()]);
        for nothing in [Value::Null, Value::Unknown] {
            let mut d = Diagnostics::new();
            r.validate_config(&nothing, &mut d);
            assert!(d.is_empty(), "{nothing:?}: nothing to check");
        }

        let mut private = vec![7];
        let read = r.read(&bad, &mut private).await;
        assert_eq!(read.state, bad, "the state stays as it was");
        assert_eq!(paths(&read.diags), vec![id.clone()]);
        assert_eq!(private, vec![7]);

        let good = note(Value::string("i"), "t");
        let out = r.update(&bad, &good, &text_bad, &mut private).await;
        assert_eq!(out.state, bad, "the prior state stays");
        assert_eq!(paths(&out.diags), vec![id.clone(), text.clone()]);
        assert_eq!(private, vec![7], "no step ran");

        let out = r.create(&bad, &good, &mut Vec::new()).await;
        assert!(out.state.is_null());
        assert_eq!(paths(&out.diags), vec![id]);

        // The record is read too, where the step needs it.
        let mut unreadable = vec![1, 2];
        let out = r.delete(&good, &mut unreadable).await;
        assert_eq!(out.state, good);
        assert_eq!(summaries(&out.diags), vec!["Unreadable private state"]);
    }

    #[tokio::test]
    async fn steps_get_their_models_and_records_and_their_answers_are_written_back() {
        let r = notes();
        let mut d = Diagnostics::new();
        r.validate_config(&note(Value::Null, "bad"), &mut d);
        assert_eq!(summaries(&d), vec!["Bad text"]);

        // Create plan: the filled id is written back.
        let config = note(Value::Null, "a");
        let mut planned = note(Value::Unknown, "a");
        let mut private = Vec::new();
        r.modify_plan(&Value::Null, &config, &mut planned, &mut private, &mut d)
            .await;
        assert_eq!(planned, note(Value::string("id-a"), "a"));

        // Update plan: a plan the step leaves alone keeps what the model cannot hold.
        let refined = note(Value::RefinedUnknown(Refinements(vec![1])), "b");
        let mut planned = refined.clone();
        let prior = note(Value::string("id-a"), "a");
        r.modify_plan(&prior, &config, &mut planned, &mut private, &mut d)
            .await;
        assert_eq!(planned, refined);
        assert_eq!(private, vec![1], "the record the plan changed is stored");

        // Destroy plan: the step sees the prior state.
        let mut d = Diagnostics::new();
        let mut destroy = Value::Null;
        let kept = note(Value::string("k"), "keep");
        r.modify_plan(&kept, &Value::Null, &mut destroy, &mut private, &mut d)
            .await;
        assert_eq!(summaries(&d), vec!["Kept"]);

        // Apply: create starts a fresh record whatever the plan left.
        let mut private = vec![9];
        let out = r.create(&prior, &config, &mut private).await;
        assert_eq!(out.state, prior);
        assert_eq!(private, vec![1]);
        let out = r.update(&prior, &prior, &config, &mut private).await;
        assert_eq!(out.state, prior);
        assert_eq!(private, vec![2]);
        let out = r.delete(&prior, &mut private).await;
        assert!(out.state.is_null() && out.diags.is_empty());
        assert_eq!(private, vec![2], "a record left alone keeps its bytes");
    }

    #[tokio::test]
    async fn a_read_tolerates_an_unreadable_record_and_keeps_its_bytes() {
        let r = notes();
        let state = note(Value::string("i"), "t");
        let mut private = vec![1, 2, 3];
        let out = r.read(&state, &mut private).await;
        assert_eq!(out.state, state);
        assert!(out.diags.is_empty());
        assert_eq!(private, vec![1, 2, 3]);
        // A read that writes its record replaces them.
        let counting = note(Value::string("i"), "count");
        let out = r.read(&counting, &mut private).await;
        assert!(out.diags.is_empty());
        assert_eq!(private, vec![1]);
    }

    struct Echo {
        schema: Schema,
    }

    #[async_trait]
    impl TypedDataSource for Echo {
        type Model = Note;

        fn type_name(&self) -> &str {
            "test_echo"
        }

        fn schema(&self) -> &Schema {
            &self.schema
        }

        async fn read(&self, mut config: Note) -> StateOutcome<Note> {
            config.id = config.text.clone();
            StateOutcome::new(Some(config))
        }
    }

    #[tokio::test]
    async fn a_data_source_reads_its_configuration_as_its_model() {
        let ds = typed_data_source(Echo {
            schema: Schema::new(0, Block::new("echo")),
        });
        let out = ds.read(&note(Value::Null, "x")).await;
        assert_eq!(out.state, note(Value::string("x"), "x"));
        let bad = Value::object([("id", Value::Null), ("text", Value::int(1))]);
        let out = ds.read(&bad).await;
        assert!(out.state.is_null());
        assert_eq!(
            out.diags.iter().map(|x| x.path.clone()).collect::<Vec<_>>(),
            vec![Some(AttributePath::attr("text"))]
        );
    }
}
