//! Issue 10 at the area, on both backends: the receipt fact AVI counts deadlines from (24 §),
//! what a referral carries and shows (residence basis, TE interview, binding plan, interview
//! owed, unit), idempotent calls that count once, and AVI's suspensions (22 §), partial and
//! lifted.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kokeilu_bus::envelope::{decode, open};
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::ManualClock;
use kokeilu_proto::supervision::{
    ActionKind, FactKind, ServiceFact, SupervisoryAction, SuspensionScope,
};
use kokeilu_proto::{Payload, date_from_naive, date_to_naive};
use kokeilu_rules::competence::StatementSubject;
use kokeilu_rules::registry::Registry;
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use trial_area::desk::{Desk, Idem};
use trial_area::domain::{IncomingReferral, IncomingStatus, Plan, ServiceEvent, Statement};
use trial_area::error::Error;
use trial_area::store::Store;
use trial_area::units::Units;

on_both_backends!(
    the_receipt_is_reported_to_avi_with_the_clients_municipality,
    a_referral_shows_its_basis_the_binding_plan_and_the_interview_owed,
    a_retried_service_event_counts_once,
    every_mutating_call_replays_its_first_answer,
    a_partial_suspension_refuses_exactly_what_it_covers_until_lifted,
    orders_to_a_municipality_show_its_unit,
);

const AREA: &str = "kainuu";

/// Monday 2.9.2024 09:00 in Finland.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn units() -> Units {
    Units::parse(
        "\"Paltamo–Hyrynsalmi–Ristijärvi\" = [\"578\", \"105\", \"697\"]\nKajaani = [\"205\"]",
        AREA,
        Registry::builtin(),
    )
    .unwrap()
}

async fn desk(backend: TestBackend) -> Option<(Desk, Arc<ManualClock>, TestDb)> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &trial_area::startup::MIGRATIONS)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let desk = Desk::new(
        AREA.to_owned(),
        Store::new(db),
        Outbox::new(),
        clock.clone(),
    )
    .with_units(units());
    Some((desk, clock, test_db))
}

fn idem() -> Idem {
    let key = uuid::Uuid::now_v7().to_string();
    Idem::new("test", &key, &key).unwrap()
}

fn referral(grounds: Vec<i32>, home: &str) -> IncomingReferral {
    IncomingReferral {
        referral_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        henkilotunnus: "131052-308T".into(),
        home_municipality_code: home.into(),
        grounds,
        job_search_start: day(2024, 8, 28),
        referral_date: day(2024, 8, 30),
        status: IncomingStatus::Received,
        received_at: now(),
        decided_at: None,
        rejection_reason: None,
        rejection_detail: String::new(),
        issued_message_id: uuid::Uuid::now_v7().to_string(),
        client_pseudonym: "ab".repeat(32),
        pseudonym_key_id: "test-1".into(),
        trace_context: vec![],
        cursor: 0,
        residence_municipality_code: String::new(),
        decided_by_residence: false,
        te_office_interview: None,
        previous_job_search_end: None,
        employment_plan: None,
        plan_revised_on: None,
    }
}

async fn receive(desk: &Desk, r: &IncomingReferral) {
    let mut tx = desk.store.begin().await.unwrap();
    assert!(desk.receive(&mut tx, r).await.unwrap());
    tx.commit().await.unwrap();
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

/// The facts queued for AVI, oldest first.
async fn facts(desk: &Desk) -> Vec<ServiceFact> {
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT subject, payload FROM outbox ORDER BY seq")
            .fetch_all(desk.store.db().pool())
            .await
            .unwrap();
    rows.into_iter()
        .filter(|(subject, _)| subject.starts_with("kokeilu.v1.supervision."))
        .map(|(_, payload)| {
            let env = decode(&payload).unwrap();
            assert_eq!(env.payload_type, ServiceFact::TYPE);
            open::<ServiceFact>(&env).unwrap()
        })
        .collect()
}

fn precondition(e: Error) -> String {
    let status = tonic::Status::from(e);
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status.message().to_owned()
}

async fn the_receipt_is_reported_to_avi_with_the_clients_municipality(backend: TestBackend) {
    let Some((desk, _clock, _db)) = desk(backend).await else {
        return;
    };
    // Temporary protection without a home municipality: the area was chosen by residence.
    let r = IncomingReferral {
        home_municipality_code: String::new(),
        residence_municipality_code: "205".into(),
        decided_by_residence: true,
        ..referral(vec![6], "")
    };
    receive(&desk, &r).await;
    let facts_now = facts(&desk).await;
    assert_eq!(facts_now.len(), 1, "one receipt fact");
    let receipt = &facts_now[0];
    assert_eq!(receipt.kind, FactKind::ReferralReceived as i32);
    assert_eq!(
        receipt.received_at.as_ref().map(|t| t.seconds),
        Some(now().timestamp())
    );
    assert_eq!(receipt.date, Some(date_from_naive(day(2024, 9, 2))));
    assert_eq!(receipt.municipality_code, "205");
    assert_eq!(receipt.fact_id, format!("{}:received", r.referral_id));
    assert_eq!(receipt.client_pseudonym, r.client_pseudonym);

    desk.acknowledge(&idem(), &r.referral_id).await.unwrap();
    let facts_now = facts(&desk).await;
    assert_eq!(facts_now.len(), 2);
    let ack = &facts_now[1];
    assert_eq!(ack.kind, FactKind::ReferralAcknowledged as i32);
    assert_eq!(ack.municipality_code, "205");
    assert_eq!(ack.fact_id, format!("{}:acknowledged", r.referral_id));

    let event = desk
        .record_service_event(
            &idem(),
            &r.referral_id,
            ServiceEvent::InitialInterview,
            day(2024, 9, 2),
        )
        .await
        .unwrap();
    let facts_now = facts(&desk).await;
    assert_eq!(facts_now[2].fact_id, event.event_id);
    assert_eq!(facts_now[2].municipality_code, "205");

    // A referral already stored is not received (nor reported) again.
    let mut tx = desk.store.begin().await.unwrap();
    assert!(!desk.receive(&mut tx, &r).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(facts(&desk).await.len(), 3);
}

async fn a_referral_shows_its_basis_the_binding_plan_and_the_interview_owed(backend: TestBackend) {
    let Some((desk, clock, _db)) = desk(backend).await else {
        return;
    };
    let plan = Plan {
        plan_id: "plan-7".into(),
        kind: 1,
        made_on: day(2024, 8, 5),
        next_review_on: Some(day(2024, 11, 5)),
    };
    // Job search from 1.8.2024: the statutory 5 working days ended long before receipt on
    // 2.9.2024, so the area owes it within 5 working days of receipt (interpretation, 24 §).
    let late = IncomingReferral {
        job_search_start: day(2024, 8, 1),
        employment_plan: Some(plan.clone()),
        ..referral(vec![2], "205")
    };
    receive(&desk, &late).await;
    let wire = trial_area::grpc::to_wire(
        &desk.units,
        &desk
            .store
            .referral(&late.referral_id)
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(wire.initial_interview_required);
    assert_eq!(
        wire.initial_interview_due.as_ref().and_then(date_to_naive),
        Some(day(2024, 9, 9))
    );
    assert!(
        wire.initial_interview_rule.contains("(interpretation: "),
        "{}",
        wire.initial_interview_rule
    );
    assert_eq!(wire.municipality_code, "205");
    assert_eq!(wire.unit, "Kajaani");
    let sent = wire.employment_plan.clone().unwrap();
    assert_eq!(sent.plan_id, "plan-7");
    assert_eq!(sent.made_on, Some(date_from_naive(day(2024, 8, 5))));
    assert_eq!(wire.plan_revised_on, None);

    // The area revises the plan: the plan that came stays visible, with the revision day.
    desk.acknowledge(&idem(), &late.referral_id).await.unwrap();
    clock.advance(Duration::days(1));
    desk.record_service_event(
        &idem(),
        &late.referral_id,
        ServiceEvent::EmploymentPlan,
        day(2024, 9, 3),
    )
    .await
    .unwrap();
    desk.record_service_event(
        &idem(),
        &late.referral_id,
        ServiceEvent::EmploymentPlan,
        day(2024, 9, 3),
    )
    .await
    .unwrap();
    let stored = desk
        .store
        .referral(&late.referral_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.employment_plan, Some(plan));
    assert_eq!(stored.plan_revised_on, Some(day(2024, 9, 3)));
    let wire = trial_area::grpc::to_wire(&desk.units, &stored);
    assert_eq!(wire.plan_revised_on, Some(date_from_naive(day(2024, 9, 3))));

    // The TE office held the initial interview of this job search: none is owed.
    let held = IncomingReferral {
        te_office_interview: Some(day(2024, 8, 29)),
        residence_municipality_code: "105".into(),
        ..referral(vec![1], "578")
    };
    receive(&desk, &held).await;
    let wire = trial_area::grpc::to_wire(
        &desk.units,
        &desk
            .store
            .referral(&held.referral_id)
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(!wire.initial_interview_required);
    assert_eq!(wire.initial_interview_due, None);
    assert!(wire.initial_interview_rule.contains("TE office held"));
    assert_eq!(
        wire.te_office_initial_interview_date,
        Some(date_from_naive(day(2024, 8, 29)))
    );
    assert_eq!(wire.residence_municipality_code, "105");
    assert!(!wire.decided_by_residence);
    assert_eq!(
        wire.municipality_code, "578",
        "home, not decided by residence"
    );
    assert_eq!(wire.unit, "Paltamo–Hyrynsalmi–Ristijärvi");

    // The 6-month rule (from 2.5.2022): a previous job search ended 2 months earlier.
    let recent = IncomingReferral {
        previous_job_search_end: Some(day(2024, 6, 28)),
        ..referral(vec![1], "290")
    };
    receive(&desk, &recent).await;
    let wire = trial_area::grpc::to_wire(
        &desk.units,
        &desk
            .store
            .referral(&recent.referral_id)
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(!wire.initial_interview_required);
    assert!(wire.initial_interview_rule.contains("6 months"));
    assert_eq!(wire.unit, "", "Kuhmo is in no unit of this map");
}

async fn a_retried_service_event_counts_once(backend: TestBackend) {
    let Some((desk, _clock, _db)) = desk(backend).await else {
        return;
    };
    let db = desk.store.db().clone();
    let r = referral(vec![1], "205");
    receive(&desk, &r).await;
    desk.acknowledge(&idem(), &r.referral_id).await.unwrap();
    let outbox_before = count(&db, "SELECT COUNT(*) FROM outbox").await;

    let request = kokeilu_proto::trialarea::RecordServiceEventRequest {
        area_id: AREA.into(),
        referral_id: r.referral_id.clone(),
        kind: 3,
        date: Some(date_from_naive(day(2024, 9, 2))),
        idempotency_key: "discussion-1".into(),
    };
    let key = Idem::new(
        trial_area::desk::method::RECORD_SERVICE_EVENT,
        &request.idempotency_key,
        &request,
    )
    .unwrap();
    let first = desk
        .record_service_event(
            &key,
            &r.referral_id,
            ServiceEvent::JobSearchDiscussion,
            day(2024, 9, 2),
        )
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = desk
        .record_service_event(
            &key,
            &r.referral_id,
            ServiceEvent::JobSearchDiscussion,
            day(2024, 9, 2),
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.event_id, first.event_id);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM service_events").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outbox").await,
        outbox_before + 1,
        "one fact for AVI"
    );

    // The same key for another request is refused and changes nothing.
    let other = kokeilu_proto::trialarea::RecordServiceEventRequest {
        date: Some(date_from_naive(day(2024, 8, 30))),
        ..request.clone()
    };
    let conflict = Idem::new(
        trial_area::desk::method::RECORD_SERVICE_EVENT,
        &other.idempotency_key,
        &other,
    )
    .unwrap();
    let e = desk
        .record_service_event(
            &conflict,
            &r.referral_id,
            ServiceEvent::JobSearchDiscussion,
            day(2024, 8, 30),
        )
        .await
        .unwrap_err();
    assert!(precondition(e).contains("different request"));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM service_events").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outbox").await,
        outbox_before + 1
    );

    // A key is required.
    let Err(Error::Invalid(v)) = Idem::new("test", "  ", &request) else {
        panic!("an empty key is invalid");
    };
    assert_eq!(v[0].field, "idempotency_key");

    // A refused call leaves no key behind: corrected, it goes through under the same key.
    let future = Idem::new("test", "k-late", &"k-late".to_owned()).unwrap();
    assert!(matches!(
        desk.record_service_event(
            &future,
            &r.referral_id,
            ServiceEvent::JobSearchDiscussion,
            day(2024, 8, 1),
        )
        .await,
        Err(Error::Invalid(_))
    ));
    assert!(
        !desk
            .record_service_event(
                &future,
                &r.referral_id,
                ServiceEvent::JobSearchDiscussion,
                day(2024, 9, 2),
            )
            .await
            .unwrap()
            .replayed
    );
}

async fn every_mutating_call_replays_its_first_answer(backend: TestBackend) {
    let Some((desk, clock, _db)) = desk(backend).await else {
        return;
    };
    let db = desk.store.db().clone();
    let a = referral(vec![1], "205");
    let b = referral(vec![1], "205");
    receive(&desk, &a).await;
    receive(&desk, &b).await;

    let k = idem();
    let first = desk.acknowledge(&k, &a.referral_id).await.unwrap();
    clock.advance(Duration::minutes(5));
    let again = desk.acknowledge(&k, &a.referral_id).await.unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.acknowledged_at, first.acknowledged_at);

    let k = idem();
    let rejection = trial_area::domain::Rejection::validate(1, "muutti").unwrap();
    let first = desk
        .reject(&k, &b.referral_id, rejection.clone())
        .await
        .unwrap();
    let again = desk.reject(&k, &b.referral_id, rejection).await.unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.rejected_at, first.rejected_at);

    let k = idem();
    let statement = || Statement {
        subject: StatementSubject::GeneralConditions,
        subject_name: "general_conditions".into(),
        information_received: day(2024, 9, 2),
        date: day(2024, 9, 2),
    };
    let first = desk
        .issue_statement(&k, &a.referral_id, statement())
        .await
        .unwrap();
    let again = desk
        .issue_statement(&k, &a.referral_id, statement())
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.statement_id, first.statement_id);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM statements").await, 1);

    let request = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::InformationRequest as i32,
        referral_ids: vec![a.referral_id.clone()],
        ..Default::default()
    };
    insert_action(&desk, &request).await;
    let k = idem();
    let first = desk
        .answer_information_request(&k, &request.action_id)
        .await
        .unwrap();
    let again = desk
        .answer_information_request(&k, &request.action_id)
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.records, 1);
    assert_eq!(again.records, 1);
    assert!(matches!(
        desk.answer_information_request(&idem(), &request.action_id)
            .await,
        Err(Error::AlreadyDecided { .. })
    ));

    let k = idem();
    let first = desk
        .transfer_client(&k, &a.referral_id, "te-office", day(2024, 9, 2))
        .await
        .unwrap();
    let outbox = count(&db, "SELECT COUNT(*) FROM outbox").await;
    let again = desk
        .transfer_client(&k, &a.referral_id, "te-office", day(2024, 9, 2))
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM transfers").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox").await, outbox);
}

async fn insert_action(desk: &Desk, action: &SupervisoryAction) {
    let mut tx = desk.store.begin().await.unwrap();
    assert!(
        desk.store
            .insert_action(&mut tx, action, desk.clock.now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

async fn a_partial_suspension_refuses_exactly_what_it_covers_until_lifted(backend: TestBackend) {
    let Some((desk, clock, _db)) = desk(backend).await else {
        return;
    };
    let db = desk.store.db().clone();
    // Under 30 (ground 2) in Kajaani: covered. An immigrant (3) in Kajaani, and an under-30 in
    // Kuhmo: not.
    let covered = referral(vec![2], "205");
    let other_group = referral(vec![3], "205");
    let other_town = referral(vec![2], "290");
    for r in [&covered, &other_group, &other_town] {
        receive(&desk, r).await;
    }
    desk.acknowledge(&idem(), &other_group.referral_id)
        .await
        .unwrap();
    desk.acknowledge(&idem(), &other_town.referral_id)
        .await
        .unwrap();

    let suspension = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::Suspension as i32,
        effective_from: Some(date_from_naive(day(2024, 9, 3))),
        partial: true,
        scope: Some(SuspensionScope {
            client_groups: vec!["under_30".into()],
            municipality_codes: vec!["205".into()],
            statement_subjects: vec!["general_conditions".into()],
        }),
        ..Default::default()
    };
    insert_action(&desk, &suspension).await;

    // Before its effective day nothing is refused.
    desk.record_service_event(
        &idem(),
        &other_group.referral_id,
        ServiceEvent::InitialInterview,
        day(2024, 9, 2),
    )
    .await
    .unwrap();

    clock.set(now() + Duration::days(1));
    let outbox = count(&db, "SELECT COUNT(*) FROM outbox").await;
    let e = desk
        .acknowledge(&idem(), &covered.referral_id)
        .await
        .unwrap_err();
    let message = precondition(e);
    assert!(message.contains(&suspension.action_id), "{message}");
    assert!(message.contains("2024-09-03"), "{message}");
    let stored = desk
        .store
        .referral(&covered.referral_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, IncomingStatus::Received, "nothing changed");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox").await, outbox);

    // The uncovered clients are served as usual, except statements on a covered subject.
    for r in [&other_group, &other_town] {
        desk.record_service_event(
            &idem(),
            &r.referral_id,
            ServiceEvent::JobSearchDiscussion,
            day(2024, 9, 3),
        )
        .await
        .unwrap();
    }
    let statement = |subject, name: &str, on| Statement {
        subject,
        subject_name: name.into(),
        information_received: on,
        date: on,
    };
    let e = desk
        .issue_statement(
            &idem(),
            &other_group.referral_id,
            statement(
                StatementSubject::GeneralConditions,
                "general_conditions",
                day(2024, 9, 3),
            ),
        )
        .await
        .unwrap_err();
    assert!(precondition(e).contains(&suspension.action_id));
    desk.issue_statement(
        &idem(),
        &other_group.referral_id,
        statement(
            StatementSubject::ParticipationInService,
            "participation_in_service",
            day(2024, 9, 3),
        ),
    )
    .await
    .unwrap();

    // Lifted from 5.9.: refused on the 4th, served again from the 5th.
    let lift = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::LiftSuspension as i32,
        effective_from: Some(date_from_naive(day(2024, 9, 5))),
        lifts_action_id: suspension.action_id.clone(),
        ..Default::default()
    };
    insert_action(&desk, &lift).await;
    clock.set(now() + Duration::days(2));
    assert!(matches!(
        desk.acknowledge(&idem(), &covered.referral_id).await,
        Err(Error::Suspended { .. })
    ));
    clock.set(now() + Duration::days(3));
    desk.acknowledge(&idem(), &covered.referral_id)
        .await
        .unwrap();
    assert!(matches!(
        desk.record_service_event(
            &idem(),
            &covered.referral_id,
            ServiceEvent::InitialInterview,
            day(2024, 9, 4),
        )
        .await,
        Err(Error::Suspended { .. })
    ));
    desk.record_service_event(
        &idem(),
        &covered.referral_id,
        ServiceEvent::InitialInterview,
        day(2024, 9, 5),
    )
    .await
    .unwrap();
    assert!(matches!(
        desk.issue_statement(
            &idem(),
            &other_group.referral_id,
            statement(
                StatementSubject::GeneralConditions,
                "general_conditions",
                day(2024, 9, 4),
            ),
        )
        .await,
        Err(Error::Suspended { .. })
    ));
    desk.issue_statement(
        &idem(),
        &other_group.referral_id,
        statement(
            StatementSubject::GeneralConditions,
            "general_conditions",
            day(2024, 9, 5),
        ),
    )
    .await
    .unwrap();
}

async fn orders_to_a_municipality_show_its_unit(backend: TestBackend) {
    let Some((desk, _clock, _db)) = desk(backend).await else {
        return;
    };
    let order = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::Order as i32,
        municipality_code: "697".into(),
        deadline: Some(date_from_naive(day(2024, 10, 1))),
        ..Default::default()
    };
    let to_area = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::Remark as i32,
        ..Default::default()
    };
    insert_action(&desk, &order).await;
    insert_action(&desk, &to_area).await;
    let listed = desk.actions(None, 10).await.unwrap();
    let unit_of = |id: &str| {
        listed
            .iter()
            .find(|(_, a)| a.action_id == id)
            .map(|(_, a)| a.unit.clone())
            .unwrap()
    };
    assert_eq!(unit_of(&order.action_id), "Paltamo–Hyrynsalmi–Ristijärvi");
    assert_eq!(unit_of(&to_area.action_id), "");
}
