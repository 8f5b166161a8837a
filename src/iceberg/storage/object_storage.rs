//! iceberg-rust's `Storage` implemented with `object_store`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage,
    StorageConfig, StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use serde::{Deserialize, Serialize};

use super::options::{parse_location, Location, S3Settings};

/// A `FileIO` that reads local paths and S3 locations with the given settings.
pub fn file_io_for(s3: S3Settings) -> FileIO {
    FileIOBuilder::new(Arc::new(ObjectStorageFactory { s3 })).build()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ObjectStorageFactory {
    s3: S3Settings,
}

#[typetag::serde]
impl StorageFactory for ObjectStorageFactory {
    fn build(&self, _config: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(ObjectStorage { s3: self.s3.clone(), stores: Default::default() }))
    }
}

/// One client per bucket (and one for the local filesystem), built on first use.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ObjectStorage {
    s3: S3Settings,
    #[serde(skip)]
    stores: Arc<Mutex<HashMap<String, Arc<dyn ObjectStore>>>>,
}

fn storage_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unexpected, message.into())
}

/// object_store errors name the path and the failure, never credentials.
fn from_store_error(location: &str, err: object_store::Error) -> Error {
    let kind = match &err {
        object_store::Error::NotFound { .. } => ErrorKind::DataInvalid,
        _ => ErrorKind::Unexpected,
    };
    let what = match &err {
        object_store::Error::NotFound { .. } => "file not found".to_string(),
        other => other.to_string(),
    };
    Error::new(kind, format!("{location}: {what}"))
}

impl ObjectStorage {
    fn resolve(&self, location: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
        let parsed = parse_location(location).map_err(storage_error)?;
        let (key, path) = match &parsed {
            Location::Local(p) => (
                String::from("file"),
                Path::from_absolute_path(p).map_err(|e| storage_error(format!("{location}: {e}")))?,
            ),
            Location::S3 { bucket, key } => (
                format!("s3:{bucket}"),
                Path::parse(key).unwrap_or_else(|_| Path::from(key.as_str())),
            ),
        };
        let mut stores = self.stores.lock().map_err(|_| storage_error("storage lock poisoned"))?;
        if let Some(store) = stores.get(&key) {
            return Ok((store.clone(), path));
        }
        let store: Arc<dyn ObjectStore> = match &parsed {
            Location::Local(_) => Arc::new(LocalFileSystem::new()),
            Location::S3 { bucket, .. } => Arc::new(self.build_s3(bucket)?),
        };
        stores.insert(key, store.clone());
        Ok((store, path))
    }

    fn build_s3(&self, bucket: &str) -> Result<object_store::aws::AmazonS3> {
        let s3 = &self.s3;
        // Fail fast on an unreachable endpoint instead of retrying for minutes.
        let mut retry = RetryConfig::default();
        retry.max_retries = 2;
        retry.retry_timeout = Duration::from_secs(15);
        retry.backoff.init_backoff = Duration::from_millis(100);
        retry.backoff.max_backoff = Duration::from_secs(1);
        let client = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(120))
            .with_allow_http(s3.allow_http);
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(s3.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_virtual_hosted_style_request(!s3.path_style)
            .with_allow_http(s3.allow_http)
            .with_retry(retry)
            .with_client_options(client);
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        match (&s3.access_key_id, &s3.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(token) = &s3.session_token {
                    builder = builder.with_token(token);
                }
            }
            // Without keys read anonymously; never fall back to instance
            // metadata, which would probe the network.
            _ => builder = builder.with_skip_signature(true),
        }
        builder
            .build()
            .map_err(|e| storage_error(format!("cannot configure S3 for bucket \"{bucket}\": {e}")))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for ObjectStorage {
    async fn exists(&self, path: &str) -> Result<bool> {
        let (store, p) = self.resolve(path)?;
        match store.head(&p).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(from_store_error(path, e)),
        }
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        let (store, p) = self.resolve(path)?;
        let meta = store.head(&p).await.map_err(|e| from_store_error(path, e))?;
        Ok(FileMetadata { size: meta.size })
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let (store, p) = self.resolve(path)?;
        let got = store.get(&p).await.map_err(|e| from_store_error(path, e))?;
        got.bytes().await.map_err(|e| from_store_error(path, e))
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        let (store, p) = self.resolve(path)?;
        Ok(Box::new(ObjectRead { store, path: p, location: path.to_string() }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        let (store, p) = self.resolve(path)?;
        store.put(&p, bs.into()).await.map_err(|e| from_store_error(path, e))?;
        Ok(())
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        let (store, p) = self.resolve(path)?;
        let upload = store.put_multipart(&p).await.map_err(|e| from_store_error(path, e))?;
        Ok(Box::new(ObjectWrite {
            upload: Some(object_store::WriteMultipart::new(upload)),
            location: path.to_string(),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let (store, p) = self.resolve(path)?;
        match store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(from_store_error(path, e)),
        }
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        let (store, p) = self.resolve(path)?;
        let listed: Vec<_> = store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| from_store_error(path, e))?;
        for meta in listed {
            match store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(from_store_error(path, e)),
            }
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

struct ObjectRead {
    store: Arc<dyn ObjectStore>,
    path: Path,
    location: String,
}

#[async_trait]
impl FileRead for ObjectRead {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.store
            .get_range(&self.path, range)
            .await
            .map_err(|e| from_store_error(&self.location, e))
    }
}

struct ObjectWrite {
    upload: Option<object_store::WriteMultipart>,
    location: String,
}

#[async_trait]
impl FileWrite for ObjectWrite {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        let upload = self
            .upload
            .as_mut()
            .ok_or_else(|| storage_error(format!("{}: write after close", self.location)))?;
        upload.wait_for_capacity(8).await.map_err(|e| from_store_error(&self.location, e))?;
        upload.put(bs);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        let upload = self
            .upload
            .take()
            .ok_or_else(|| storage_error(format!("{}: closed twice", self.location)))?;
        upload.finish().await.map_err(|e| from_store_error(&self.location, e))?;
        Ok(())
    }
}

/// Every file under `location` (a directory URI) with its last-modified time
/// in ms since the epoch, as full URIs in the canonical form of
/// [`canonical_location`].
pub async fn list_files(s3: &S3Settings, location: &str) -> Result<Vec<(String, i64)>> {
    let storage = ObjectStorage { s3: s3.clone(), stores: Default::default() };
    let dir = format!("{}/", location.trim_end_matches('/'));
    let (store, prefix) = storage.resolve(&dir)?;
    let parsed = parse_location(location).map_err(storage_error)?;
    let metas: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| from_store_error(location, e))?;
    Ok(metas
        .into_iter()
        .map(|m| {
            let uri = match &parsed {
                Location::Local(_) => format!("file:///{}", m.location.as_ref()),
                Location::S3 { bucket, .. } => format!("s3://{bucket}/{}", m.location.as_ref()),
            };
            (uri, m.last_modified.timestamp_millis())
        })
        .collect())
}

/// One spelling per file: `file:///abs/path` or `s3://bucket/key`, so
/// locations written by different engines compare equal.
pub fn canonical_location(location: &str) -> String {
    match parse_location(location) {
        Ok(Location::Local(p)) => format!("file://{p}"),
        Ok(Location::S3 { bucket, key }) => format!("s3://{bucket}/{key}"),
        Err(_) => location.to_string(),
    }
}
