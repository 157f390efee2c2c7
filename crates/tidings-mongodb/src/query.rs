//! Small pieces every collection access here shares.

use std::future::IntoFuture;

use futures_util::TryStreamExt;
use mongodb::{
    Collection, Cursor, IndexModel,
    bson::{Bson, Document, doc},
    error::Error as MongoError,
    options::IndexOptions,
};
use tidings_core::Result;

use crate::error::classify;

/// Every document a query returns.
pub(crate) async fn all<Q>(query: Q) -> Result<Vec<Document>>
where
    Q: IntoFuture<Output = std::result::Result<Cursor<Document>, MongoError>>,
{
    query
        .await
        .map_err(classify)?
        .try_collect()
        .await
        .map_err(classify)
}

/// An index named `name` on `keys`.
pub(crate) fn named_index(keys: Document, name: &str) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

/// Deletes the `limit` oldest documents matching `filter` by `age_field`, still matching
/// `filter` when deleted: one short batch, so writers are never held up for long.
pub(crate) async fn delete_oldest(
    collection: &Collection<Document>,
    filter: Document,
    age_field: &str,
    limit: u32,
) -> Result<u64> {
    let oldest = all(collection
        .find(filter.clone())
        .sort(doc! { age_field: 1 })
        .limit(i64::from(limit))
        .projection(doc! { "_id": 1 }))
    .await?;
    if oldest.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Bson> = oldest
        .into_iter()
        .filter_map(|d| d.get("_id").cloned())
        .collect();
    let mut delete = filter;
    delete.insert("_id", doc! { "$in": ids });
    let deleted = collection.delete_many(delete).await.map_err(classify)?;
    Ok(deleted.deleted_count)
}
