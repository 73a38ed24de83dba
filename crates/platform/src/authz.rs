//! Who may call what: one table of RPC × identity, as data, enforced for every call.
//!
//! [`TABLE`] lists every RPC Kokeilu serves (its full gRPC path), the roles allowed to call it and
//! what personal data its answer carries. A method missing from the table is refused for everyone.
//! [`AuthzLayer`] runs before any service code: it reads the identity from the client certificate
//! (mutual TLS, [`crate::identity`]), decides with [`decide`], puts the [`Identity`] into the
//! request's extensions for the handler ([`crate::identity::caller`]) and answers
//! `PERMISSION_DENIED` otherwise, logging a security event (target `kokeilu::security`, no
//! personal data) and counting it in `kokeilu_security_events_total`.
//!
//! A trial area's deployment serves one area: its role [`Role::OwnArea`] admits only the identity
//! of that area, so Kainuu's certificate is refused at Helsinki's service before any handler runs.
//! The handlers then take the acting area from the certificate and refuse a request field naming
//! another one.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::identity::Identity;

/// What a caller's identity is, relative to the deployment it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `kokeilu://te-office`.
    TeOffice,
    /// `kokeilu://area/<slug>` where `<slug>` is the area this deployment serves.
    OwnArea,
    /// `kokeilu://avi`: AVI's supervision system.
    Avi,
    /// `kokeilu://avi/staff/<id>`: a named AVI inspector.
    AviStaff,
    /// `kokeilu://operator`.
    Operator,
    /// Any authenticated identity.
    Anyone,
}

/// What personal data an RPC's request or answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalData {
    /// None: counts, health, schemas.
    None,
    /// Pseudonyms, referral ids and case notes about identifiable people.
    Pseudonymous,
    /// Henkilötunnus or other direct identifiers.
    Identifying,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Full gRPC path: `/package.Service/Method`.
    pub method: &'static str,
    /// Who may call it.
    pub allow: &'static [Role],
    /// What personal data it carries.
    pub data: PersonalData,
    /// Whether it changes state.
    pub mutates: bool,
}

const fn rule(
    method: &'static str,
    allow: &'static [Role],
    data: PersonalData,
    mutates: bool,
) -> Rule {
    Rule {
        method,
        allow,
        data,
        mutates,
    }
}

use PersonalData::{Identifying, None as NoData, Pseudonymous};
use Role::{Anyone, Avi, AviStaff, Operator, OwnArea, TeOffice};

const AVI_ONLY: &[Role] = &[Avi, AviStaff];
const AVI_OR_OPERATOR: &[Role] = &[Avi, AviStaff, Operator];

/// Every RPC Kokeilu serves and who may call it. Tests check that every method of every service
/// (from the protobuf descriptors) has exactly one row.
pub const TABLE: &[Rule] = &[
    // te-office: only the TE office's own systems.
    rule(
        "/kokeilu.teoffice.v1.TeOfficeService/SubmitReferral",
        &[TeOffice],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.teoffice.v1.TeOfficeService/GetReferral",
        &[TeOffice],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.teoffice.v1.TeOfficeService/ListReferrals",
        &[TeOffice],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.teoffice.v1.TeOfficeService/WatchReferrals",
        &[TeOffice],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.teoffice.v1.TeOfficeService/EvaluateEligibility",
        &[TeOffice],
        Identifying,
        false,
    ),
    // A trial area's service: only that area's own systems.
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/ListIncomingReferrals",
        &[OwnArea],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/GetIncomingReferral",
        &[OwnArea],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/WatchIncomingReferrals",
        &[OwnArea],
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/AcknowledgeClient",
        &[OwnArea],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/RejectReferral",
        &[OwnArea],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/RecordServiceEvent",
        &[OwnArea],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/IssueStatement",
        &[OwnArea],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/TransferClient",
        &[OwnArea],
        Identifying,
        true,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/ListSupervisoryActions",
        &[OwnArea],
        Pseudonymous,
        false,
    ),
    rule(
        "/kokeilu.trialarea.v1.TrialAreaService/AnswerInformationRequest",
        &[OwnArea],
        Identifying,
        true,
    ),
    // The supervisor: AVI only; the operator reads the one aggregate without personal data.
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/SubscribeComplianceEvents",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/ListComplianceEvents",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/GetAreaSummary",
        AVI_OR_OPERATOR,
        NoData,
        false,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/RequestInformation",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    // The one identifying read: logged with the actor; masked unless `may_see_identities`.
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/GetInformationAnswer",
        AVI_ONLY,
        Identifying,
        false,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/IssueOrder",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/IssueRemark",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/SuspendTrial",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/LiftSuspension",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/ListActions",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    // Complaints name clients by referral id and may tell their story: AVI's own.
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/ReceiveComplaint",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/DecideComplaint",
        AVI_ONLY,
        Pseudonymous,
        true,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/GetComplaint",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/ListComplaints",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    // The notice quotes the procedures' texts, which may refer to clients by referral id.
    rule(
        "/kokeilu.supervisor.v1.SupervisorService/GetMinistryNotice",
        AVI_ONLY,
        Pseudonymous,
        false,
    ),
    // Every service: health and reflection for every authenticated identity.
    rule("/grpc.health.v1.Health/Check", &[Anyone], NoData, false),
    rule("/grpc.health.v1.Health/Watch", &[Anyone], NoData, false),
    rule(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        &[Anyone],
        NoData,
        false,
    ),
    rule(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        &[Anyone],
        NoData,
        false,
    ),
];

/// Which party a service deployment belongs to: decides what [`Role::OwnArea`] means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    TeOffice,
    /// A trial area's service, serving the area with this slug.
    TrialArea(String),
    Supervisor,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The method is not in the table.
    UnknownMethod,
    /// The identity's role is not allowed to call the method.
    NotAllowed,
}

/// The roles an identity holds at a deployment.
pub fn roles(identity: &Identity, deployment: &Deployment) -> Vec<Role> {
    let mut roles = vec![Anyone];
    match identity {
        Identity::TeOffice => roles.push(TeOffice),
        Identity::Area(slug) => {
            if matches!(deployment, Deployment::TrialArea(own) if own == slug) {
                roles.push(OwnArea);
            }
        }
        Identity::Avi => roles.push(Avi),
        Identity::AviStaff(_) => roles.push(AviStaff),
        Identity::Operator => roles.push(Operator),
    }
    roles
}

/// The table's row for a method.
pub fn rule_for(method: &str) -> Option<&'static Rule> {
    TABLE.iter().find(|r| r.method == method)
}

/// Whether `identity` may call `method` at `deployment`.
pub fn decide(method: &str, identity: &Identity, deployment: &Deployment) -> Result<(), Denial> {
    let rule = rule_for(method).ok_or(Denial::UnknownMethod)?;
    let held = roles(identity, deployment);
    if rule.allow.iter().any(|r| held.contains(r)) {
        Ok(())
    } else {
        Err(Denial::NotAllowed)
    }
}

/// Whether an identity may see henkilötunnus and other direct identifiers in an answer that
/// carries them for supervision (`GetInformationAnswer`): only a named AVI inspector, whose reads
/// are logged with their name. AVI's system identity gets the answer masked.
pub fn may_see_identities(identity: &Identity) -> bool {
    matches!(identity, Identity::AviStaff(_))
}

/// Logs and counts a refused request: who, what and why, never the request's content.
pub fn security_event(caller: Option<&Identity>, method: &str, reason: &str) {
    let caller = caller.map_or_else(|| "unauthenticated".to_owned(), Identity::uri);
    tracing::warn!(
        target: "kokeilu::security",
        security_event = "permission_denied",
        caller = %caller,
        method = %method,
        reason = %reason,
        "request refused"
    );
    metrics::counter!(
        crate::metrics::SECURITY_EVENTS,
        "kind" => "permission_denied",
    )
    .increment(1);
}

/// Adds [`Authz`] to a tonic server.
#[derive(Debug, Clone)]
pub struct AuthzLayer {
    deployment: Arc<Deployment>,
}

impl AuthzLayer {
    pub fn new(deployment: Deployment) -> Self {
        Self {
            deployment: Arc::new(deployment),
        }
    }
}

impl<S> tower::Layer<S> for AuthzLayer {
    type Service = Authz<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authz {
            inner,
            deployment: self.deployment.clone(),
        }
    }
}

/// Authorises every call to `inner` against [`TABLE`].
#[derive(Debug, Clone)]
pub struct Authz<S> {
    inner: S,
    deployment: Arc<Deployment>,
}

fn peer_identity<B>(req: &http::Request<B>) -> Option<Identity> {
    let info = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?;
    let certs = info.peer_certs()?;
    let leaf = certs.first()?;
    match Identity::from_certificate(leaf.as_ref()) {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(
                target: "kokeilu::security",
                security_event = "unknown_identity",
                error = %e,
                "client certificate names no Kokeilu identity"
            );
            None
        }
    }
}

fn refuse(status: tonic::Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Authz<S>
where
    S: tower::Service<
            http::Request<ReqBody>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let Some(identity) = peer_identity(&req) else {
            security_event(None, &method, "no Kokeilu client certificate");
            return Box::pin(async {
                Ok(refuse(tonic::Status::unauthenticated(
                    "a client certificate naming a Kokeilu identity is required",
                )))
            });
        };
        match decide(&method, &identity, &self.deployment) {
            Ok(()) => {
                req.extensions_mut().insert(identity);
                // The clone is ready-checked by the server's buffer (tonic drives poll_ready on
                // `self.inner`); swap so the ready instance handles this call.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(req))
            }
            Err(denial) => {
                let reason = match denial {
                    Denial::UnknownMethod => "method not in the authorisation table",
                    Denial::NotAllowed => "identity not allowed to call this method",
                };
                security_event(Some(&identity), &method, reason);
                Box::pin(async move {
                    Ok(refuse(tonic::Status::permission_denied(format!(
                        "{identity} may not call {method}"
                    ))))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
