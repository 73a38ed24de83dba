//! Table tests of the supervisor's decisions: what a referral, a fact or a missed deadline
//! decides, without a database.

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn intake(start: NaiveDate) -> Intake {
    Intake {
        job_search_start: start,
        te_interview_on: None,
        previous_job_search_end: None,
    }
}

#[test]
fn the_receipt_opens_acknowledgement_and_initial_interview_deadlines() {
    // Received Mon 2.9; the job search began Fri 30.8: the statutory 5 working days (Fri 6.9)
    // fall after the receipt and stand.
    let d = on_receipt(&intake(day(2024, 8, 30)), day(2024, 9, 2), 2);
    assert_eq!(d[0].kind, DeadlineKind::Acknowledgement);
    assert_eq!(d[0].due, day(2024, 9, 4));
    assert!(d[0].rule.contains("24 §"), "{}", d[0].rule);
    assert_eq!(d[1].kind, DeadlineKind::InitialInterview);
    assert_eq!(d[1].due, day(2024, 9, 6));
    assert!(!d[1].rule.contains("interpretation"), "{}", d[1].rule);
    assert_eq!(d.len(), 2);
}

#[test]
fn a_statutory_deadline_that_passed_before_receipt_counts_from_receipt() {
    // Job search began 19.8; received 2.9 (after 26.8, the statutory due date): 5 working days
    // from receipt, with the interpretation in the rule text.
    let d = on_receipt(&intake(day(2024, 8, 19)), day(2024, 9, 2), 2);
    let interview = d
        .iter()
        .find(|d| d.kind == DeadlineKind::InitialInterview)
        .unwrap();
    assert_eq!(interview.due, day(2024, 9, 9));
    assert!(
        interview.rule.contains("(interpretation: "),
        "{}",
        interview.rule
    );
    assert!(d.iter().all(|d| d.due >= day(2024, 9, 2)));
}

#[test]
fn after_a_te_interview_the_area_owes_discussions_none_due_before_receipt() {
    let start = day(2024, 3, 4);
    let d = on_receipt(
        &Intake {
            te_interview_on: Some(day(2024, 3, 6)),
            ..intake(start)
        },
        day(2024, 9, 2),
        2,
    );
    assert!(d.iter().all(|d| d.kind != DeadlineKind::InitialInterview));
    let intensive = d
        .iter()
        .find(|d| d.kind == DeadlineKind::IntensiveDiscussions)
        .unwrap();
    // 3 months from the TE interview had passed (6.6): counted from receipt.
    assert!(intensive.due > day(2024, 9, 2), "{intensive:?}");
    assert!(intensive.rule.contains("interpretation"));
    assert!(d.iter().all(|d| d.due >= day(2024, 9, 2)), "{d:?}");
}

#[test]
fn the_6_month_rule_owes_no_new_initial_interview() {
    let d = on_receipt(
        &Intake {
            previous_job_search_end: Some(day(2024, 6, 1)),
            ..intake(day(2024, 8, 30))
        },
        day(2024, 9, 2),
        2,
    );
    assert_eq!(
        d.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DeadlineKind::Acknowledgement]
    );
}

#[test]
fn an_initial_interview_opens_the_half_yearly_discussions_from_the_6_month_mark() {
    let d = on_initial_interview(day(2024, 3, 4), day(2024, 3, 5));
    let half = d
        .iter()
        .find(|d| d.kind == DeadlineKind::HalfYearlyDiscussions)
        .unwrap();
    assert_eq!(half.opens, Some(day(2024, 9, 4)));
    assert_eq!(half.due, day(2024, 10, 4));
    assert_eq!(half.required, 2);
    let next = half_yearly(day(2024, 3, 4), 2).unwrap();
    assert_eq!(next.opens, Some(day(2025, 3, 4)));
    // Before the Nordic model (2.5.2022) there were none.
    assert!(half_yearly(day(2021, 3, 1), 1).is_none());
    assert!(
        on_initial_interview(day(2021, 3, 1), day(2021, 3, 2))
            .iter()
            .all(|d| d.kind != DeadlineKind::HalfYearlyDiscussions)
    );
}

#[test]
fn deadlines_move_from_open_to_met_or_late() {
    let due = day(2024, 9, 6);
    assert_eq!(meet(DeadlineStatus::Open, due, due), DeadlineStatus::Met);
    assert_eq!(
        meet(DeadlineStatus::Open, due, day(2024, 9, 9)),
        DeadlineStatus::MetLate
    );
    assert_eq!(
        meet(DeadlineStatus::Missed, due, day(2024, 9, 9)),
        DeadlineStatus::MetLate
    );
    // Reported missed, but the fact is dated on the due date: met.
    assert_eq!(meet(DeadlineStatus::Missed, due, due), DeadlineStatus::Met);
    assert_eq!(
        meet(DeadlineStatus::Met, due, day(2024, 9, 9)),
        DeadlineStatus::Met
    );
    assert!(!is_overdue(due, due));
    assert!(is_overdue(due, day(2024, 9, 7)));
}

fn case() -> Case {
    Case {
        referral_id: "r1".into(),
        area: "kainuu".into(),
        pseudonym: "p1".into(),
        job_search_start: day(2024, 3, 4),
        municipality_code: "205".into(),
        awaiting_receipt: false,
    }
}

fn deadline(
    id: i64,
    kind: DeadlineKind,
    due: NaiveDate,
    required: i64,
    done: i64,
    status: DeadlineStatus,
) -> Deadline {
    Deadline {
        id,
        kind,
        due,
        required,
        done,
        status,
        rule: format!("rule {id}"),
    }
}

/// (kind, deadline, due, date) of each event, in order.
type EventKey = (
    ComplianceKind,
    Option<DeadlineKind>,
    Option<NaiveDate>,
    NaiveDate,
);

fn events(d: &Decision) -> Vec<EventKey> {
    d.events
        .iter()
        .map(|e| (e.kind, e.deadline, e.due, e.date))
        .collect()
}

#[test]
fn one_discussion_decides_every_deadline_it_counts_towards() {
    use DeadlineKind::*;
    use DeadlineStatus::*;
    let on = day(2024, 10, 10);
    let half_due = day(2024, 10, 4);
    let regular_due = day(2024, 10, 1);
    let loaded = [
        deadline(1, IntensiveDiscussions, day(2024, 6, 4), 3, 1, Open),
        deadline(2, HalfYearlyDiscussions, half_due, 2, 1, Open),
        deadline(3, RegularDiscussion, regular_due, 1, 0, Missed),
    ];
    let d = decide_fact(&Fact::JobSearchDiscussionHeld, on, &case(), &loaded, 1).unwrap();
    assert_eq!(d.case, None);
    assert_eq!(d.cancel, None);
    assert_eq!(
        d.changes,
        [
            DeadlineChange::Progressed { id: 1, done: 2 },
            DeadlineChange::Met {
                id: 2,
                done: 2,
                status: MetLate,
                on
            },
            DeadlineChange::Met {
                id: 3,
                done: 1,
                status: MetLate,
                on
            },
        ]
    );
    // Unreported miss of the half-yearly ones: both events; the regular one was reported
    // missed already: only the late meeting.
    assert_eq!(
        events(&d),
        [
            (
                ComplianceKind::DeadlineMissed,
                Some(HalfYearlyDiscussions),
                Some(half_due),
                half_due
            ),
            (
                ComplianceKind::DeadlineMetLate,
                Some(HalfYearlyDiscussions),
                Some(half_due),
                on
            ),
            (
                ComplianceKind::DeadlineMetLate,
                Some(RegularDiscussion),
                Some(regular_due),
                on
            ),
        ]
    );
    assert_eq!(d.events[1].rule, "rule 2");
    // The second half-year begins, and the next regular discussion is due.
    let opened: Vec<_> = d.opens.iter().map(|o| o.deadline.kind).collect();
    assert_eq!(opened, [HalfYearlyDiscussions, RegularDiscussion]);
    assert_eq!(
        d.opens[0],
        Opening::open(half_yearly(day(2024, 3, 4), 2).unwrap())
    );
}

#[test]
fn facts_about_a_case_decide_its_dates_and_cancellations() {
    use DeadlineKind::*;
    use DeadlineStatus::*;
    let on = day(2024, 9, 3);
    let ack = [deadline(7, Acknowledgement, day(2024, 9, 4), 1, 0, Open)];
    let met = DeadlineChange::Met {
        id: 7,
        done: 1,
        status: Met,
        on,
    };
    let table: [(Fact, &[Deadline], Decision); 4] = [
        (
            Fact::Acknowledged,
            &ack,
            Decision {
                case: Some(CaseUpdate::Acknowledged(on)),
                changes: vec![met],
                ..Decision::default()
            },
        ),
        (
            Fact::Rejected,
            &ack,
            Decision {
                case: Some(CaseUpdate::Rejected(on)),
                changes: vec![met],
                cancel: Some(Cancel::All),
                ..Decision::default()
            },
        ),
        (
            Fact::Transferred,
            &[],
            Decision {
                cancel: Some(Cancel::DueFrom(on)),
                ..Decision::default()
            },
        ),
        (Fact::Other, &[], Decision::default()),
    ];
    for (fact, loaded, want) in table {
        assert_eq!(
            decide_fact(&fact, on, &case(), loaded, 0).unwrap(),
            want,
            "{fact:?}"
        );
    }
    let interview = decide_fact(&Fact::InitialInterviewHeld, on, &case(), &[], 0).unwrap();
    assert_eq!(interview.case, Some(CaseUpdate::InitialInterview(on)));
    assert_eq!(
        interview.opens,
        on_initial_interview(day(2024, 3, 4), on)
            .into_iter()
            .map(Opening::open)
            .collect::<Vec<_>>()
    );
}

#[test]
fn statements_open_their_deadline_met_and_flag_what_is_outside_competence() {
    let statement = |subject: &str, received: Option<NaiveDate>| Fact::StatementIssued {
        subject: subject.into(),
        information_received: received,
    };
    let received = day(2024, 9, 2);
    // In time and within the municipality's competence: nothing to report.
    let d = decide_fact(
        &statement("general_conditions", Some(received)),
        day(2024, 9, 5),
        &case(),
        &[],
        0,
    )
    .unwrap();
    assert!(d.events.is_empty());
    assert_eq!(d.opens.len(), 1);
    assert_eq!(d.opens[0].status, DeadlineStatus::Met);
    assert_eq!(d.opens[0].met_on, Some(day(2024, 9, 5)));
    // Outside competence and late: both, in that order.
    let late = day(2024, 10, 1);
    let d = decide_fact(
        &statement("labour_market_training", Some(received)),
        late,
        &case(),
        &[],
        0,
    )
    .unwrap();
    let kinds: Vec<_> = d.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ComplianceKind::StatementOutsideCompetence,
            ComplianceKind::DeadlineMetLate
        ]
    );
    assert_eq!(d.opens[0].status, DeadlineStatus::MetLate);
    // Unusable statements.
    assert!(
        decide_fact(
            &statement("astrology", Some(received)),
            late,
            &case(),
            &[],
            0
        )
        .is_err()
    );
    assert!(
        decide_fact(
            &statement("general_conditions", None),
            late,
            &case(),
            &[],
            0
        )
        .is_err()
    );
}

#[test]
fn a_missed_deadline_is_one_event_and_half_years_roll_on() {
    let today = day(2024, 10, 7);
    let overdue = |kind| Overdue {
        deadline: deadline(5, kind, day(2024, 10, 4), 2, 0, DeadlineStatus::Open),
        case: case(),
    };
    let d = decide_missed(&overdue(DeadlineKind::InitialInterview), today, 0);
    assert_eq!(
        events(&d),
        [(
            ComplianceKind::DeadlineMissed,
            Some(DeadlineKind::InitialInterview),
            Some(day(2024, 10, 4)),
            today
        )]
    );
    assert!(d.opens.is_empty());
    let d = decide_missed(&overdue(DeadlineKind::HalfYearlyDiscussions), today, 1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(
        d.opens,
        [Opening::open(half_yearly(day(2024, 3, 4), 2).unwrap())]
    );
}

fn referral(municipality: &str, on: NaiveDate) -> Referral {
    Referral {
        referral_id: "r1".into(),
        area: "kainuu".into(),
        pseudonym: "p1".into(),
        municipality_code: municipality.into(),
        date: on,
        job_search_start: day(2024, 8, 30),
        grounds: vec![],
        residence_municipality_code: String::new(),
        decided_by_residence: false,
        te_interview_on: None,
        previous_job_search_end: None,
        employment_plan_on: None,
    }
}

#[test]
fn a_temporary_protection_referral_by_residence_is_judged_by_the_residence() {
    let registry = Registry::builtin();
    let on = day(2024, 9, 2);
    // Home municipality Helsinki (another area), residence Kajaani: lawful by residence.
    let by_residence = Referral {
        municipality_code: "205".into(),
        residence_municipality_code: "205".into(),
        decided_by_residence: true,
        grounds: vec!["temporary_protection".into()],
        ..referral("091", on)
    };
    assert!(decide_referral(&by_residence, registry).events.is_empty());
    // The residence in another area: wrong area, judged against the residence.
    let elsewhere = Referral {
        residence_municipality_code: "091".into(),
        ..by_residence.clone()
    };
    let d = decide_referral(&elsewhere, registry);
    assert_eq!(d.events.len(), 1);
    assert!(d.events[0].detail.contains("091"), "{}", d.events[0].detail);
    assert!(d.events[0].rule.contains("149/2023"));
    // Before 1.3.2023 the residence decided nothing: the referral by residence is flagged.
    let early = Referral {
        date: day(2023, 2, 28),
        ..by_residence.clone()
    };
    assert_eq!(decide_referral(&early, registry).events.len(), 1);
    // Without temporary protection, neither.
    let no_tp = Referral {
        grounds: vec!["under_30".into()],
        ..by_residence
    };
    assert_eq!(decide_referral(&no_tp, registry).events.len(), 1);
}

#[test]
fn an_on_time_fact_after_the_reported_miss_retracts_it() {
    let c = case();
    let due = day(2024, 9, 6);
    let missed = deadline(
        7,
        DeadlineKind::InitialInterview,
        due,
        1,
        0,
        DeadlineStatus::Missed,
    );
    let d = decide_fact(&Fact::InitialInterviewHeld, due, &c, &[missed], 0).unwrap();
    assert_eq!(
        d.changes,
        [DeadlineChange::Met {
            id: 7,
            done: 1,
            status: DeadlineStatus::Met,
            on: due
        }]
    );
    let kinds: Vec<_> = d.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ComplianceKind::Retraction]);
    assert_eq!(d.events[0].retracts_deadline, Some(7));
    assert_eq!(d.events[0].municipality, "205");
}

#[test]
fn a_referral_to_an_area_that_does_not_cover_the_municipality_is_flagged() {
    let registry = Registry::builtin();
    let on = day(2024, 9, 2);
    let competent = registry
        .area_for_municipality("837", on)
        .expect("Tampere is in a trial area")
        .slug
        .clone();
    let referral = |area: &str| Referral {
        area: area.into(),
        ..referral("837", on)
    };
    let right = decide_referral(&referral(&competent), registry);
    assert!(right.events.is_empty());
    // The deadlines open at receipt, not at the referral.
    assert!(right.opens.is_empty());
    let wrong = decide_referral(&referral("kainuu"), registry);
    assert!(wrong.opens.is_empty());
    assert_eq!(
        events(&wrong),
        [(ComplianceKind::WrongArea, None, None, on)]
    );
}

#[test]
fn stored_numbers_convert_both_ways_and_unknown_ones_are_errors() {
    for n in 1..=6 {
        assert_eq!(i64::from(DeadlineKind::try_from(n).unwrap()), n);
    }
    for n in 1..=5 {
        assert_eq!(i64::from(DeadlineStatus::try_from(n).unwrap()), n);
    }
    for n in 1..=5 {
        assert_eq!(i64::from(ComplianceKind::try_from(n).unwrap()), n);
    }
    assert_eq!(
        DeadlineStatus::try_from(0),
        Err(UnknownValue {
            what: "deadline status",
            value: 0
        })
    );
    assert!(DeadlineKind::try_from(7).is_err());
    assert!(ComplianceKind::try_from(-1).is_err());
}
