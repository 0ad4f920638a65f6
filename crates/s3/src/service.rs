//! The S3 API served: `s3s` parses and authenticates each request and writes S3's XML; the
//! operations Ignis supports are delegated to their modules, every other one answers S3's
//! `NotImplemented`.

use crate::auth::{Credentials, Hosts};
use crate::events::RequestFacts;
use crate::{MAX_XML_BYTES, Objects, buckets, error_doc, listing, multipart, objects};
use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use http::{HeaderValue, Request, Response};
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use std::convert::Infallible;
use std::sync::Arc;

struct Service(Arc<Objects>);

/// What an event record says about the request, from the request.
pub(crate) fn facts<T>(req: &S3Request<T>) -> RequestFacts {
    req.extensions
        .get::<RequestFacts>()
        .cloned()
        .unwrap_or_default()
}

/// Delegates each supported operation to its module, with the request's id on its errors.
macro_rules! operations {
    ($($op:ident($input:ident) -> $output:ident => $handler:path;)*) => {
        #[async_trait::async_trait]
        impl S3 for Service {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    let id = facts(&req).request_id;
                    $handler(&self.0, req).await.map_err(|mut e| {
                        e.set_request_id(id);
                        e
                    })
                }
            )*
        }
    };
}

operations! {
    create_bucket(CreateBucketInput) -> CreateBucketOutput => buckets::create;
    head_bucket(HeadBucketInput) -> HeadBucketOutput => buckets::head;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput => buckets::delete;
    list_buckets(ListBucketsInput) -> ListBucketsOutput => buckets::list;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput => buckets::location;
    put_bucket_notification_configuration(PutBucketNotificationConfigurationInput) -> PutBucketNotificationConfigurationOutput => buckets::put_notification;
    get_bucket_notification_configuration(GetBucketNotificationConfigurationInput) -> GetBucketNotificationConfigurationOutput => buckets::get_notification;
    put_object(PutObjectInput) -> PutObjectOutput => objects::put;
    get_object(GetObjectInput) -> GetObjectOutput => objects::get;
    head_object(HeadObjectInput) -> HeadObjectOutput => objects::head;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput => objects::delete;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput => objects::delete_many;
    copy_object(CopyObjectInput) -> CopyObjectOutput => objects::copy;
    put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput => objects::put_tagging;
    get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput => objects::get_tagging;
    delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput => objects::delete_tagging;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output => listing::list_v2;
    list_objects(ListObjectsInput) -> ListObjectsOutput => listing::list_v1;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput => multipart::create;
    upload_part(UploadPartInput) -> UploadPartOutput => multipart::upload_part;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput => multipart::upload_part_copy;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput => multipart::complete;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput => multipart::abort;
    list_parts(ListPartsInput) -> ListPartsOutput => multipart::list_parts;
    list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput => multipart::list_uploads;
}

/// The S3 API as a router.
pub fn router(objects: Arc<Objects>, credentials: Credentials) -> Router {
    let account = objects.account.id.clone();
    let mut builder = S3ServiceBuilder::new(Service(objects));
    builder.set_auth(credentials.clone());
    builder.set_access(credentials);
    builder.set_host(Hosts);
    let mut config = s3s::config::S3Config::default();
    config.xml_max_body_size = MAX_XML_BYTES;
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        config,
    ))));
    let s3 = builder.build();
    Router::new().fallback_service(tower::service_fn(move |mut req: Request<Body>| {
        let s3 = s3.clone();
        let facts = request_facts(&req, &account);
        let asked = error_doc::Asked::of(&req);
        async move {
            req.extensions_mut().insert(facts.clone());
            let response = match s3.call(req.map(s3s::Body::http_body_unsync)).await {
                Ok(r) => r.map(Body::new),
                Err(e) => {
                    tracing::error!(error = ?e, "S3 request failed");
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                }
            };
            let response = error_doc::complete(response, &asked, &facts).await;
            Ok::<_, Infallible>(with_ids(response, &facts))
        }
    }))
}

fn request_facts(req: &Request<Body>, account: &str) -> RequestFacts {
    let source_ip = ignis_front::Source::of(req.extensions()).ip().to_string();
    let id = uuid::Uuid::new_v4();
    RequestFacts {
        // S3's request ids are 16 upper-case hex digits; its host ids longer and base64.
        request_id: id.simple().to_string()[..16].to_ascii_uppercase(),
        host_id: base64::engine::general_purpose::STANDARD.encode(id.as_bytes()),
        source_ip,
        principal: account.to_string(),
    }
}

fn with_ids(mut response: Response<Body>, facts: &RequestFacts) -> Response<Body> {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&facts.request_id) {
        headers.insert("x-amz-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&facts.host_id) {
        headers.insert("x-amz-id-2", v);
    }
    response
}
