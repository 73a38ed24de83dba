//! Raw gRPC: any method of the descriptors, called with bytes as they are, so tests cover every
//! RPC (including ones added later) and can send what no generated client would.

use bytes::{Buf, BufMut};
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Passes request and response bytes through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Self::Encoder {
        Raw
    }

    fn decoder(&mut self) -> Self::Decoder {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// One method as the descriptors declare it.
#[derive(Debug, Clone)]
pub struct Method {
    /// `/package.Service/Method`.
    pub path: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

/// Every method of `service` (`package.Service`) in a descriptor set.
pub fn methods_of(fds: &[u8], service: &str) -> Vec<Method> {
    let set = prost_types::FileDescriptorSet::decode(fds).unwrap();
    let mut out = Vec::new();
    for file in set.file {
        let package = file.package.clone().unwrap_or_default();
        for s in &file.service {
            let full = format!("{package}.{}", s.name());
            if full != service {
                continue;
            }
            for m in &s.method {
                out.push(Method {
                    path: format!("/{full}/{}", m.name()),
                    client_streaming: m.client_streaming(),
                    server_streaming: m.server_streaming(),
                });
            }
        }
    }
    assert!(!out.is_empty(), "no methods found for {service}");
    out
}

/// Calls `method` with `body` (one message; for a client stream, a stream of one) over
/// `channel`: the status, `Ok` when the service answered (for a stream: when it started).
pub async fn call(
    channel: tonic::transport::Channel,
    method: &Method,
    body: Vec<u8>,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path: http::uri::PathAndQuery = method.path.parse().unwrap();
    match (method.client_streaming, method.server_streaming) {
        (false, false) => grpc
            .unary(tonic::Request::new(body), path, Raw)
            .await
            .map(drop),
        (false, true) => grpc
            .server_streaming(tonic::Request::new(body), path, Raw)
            .await
            .map(drop),
        (true, _) => grpc
            .streaming(tonic::Request::new(tokio_stream::iter([body])), path, Raw)
            .await
            .map(drop),
    }
}
