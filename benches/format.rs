//! Entry encoding and decoding: a small entry (one update), the suite's largest batch (64
//! updates, what recovery of `batch-64-syncfs` decodes behind every crash state) and a large one
//! (1,000 updates), in bytes per second and in entries per second; then `validate` on the
//! 64-update entry and the derivation of one temp and one scratch path.

use crashsafe::format::{
    decode, encode, temp_path, try_scratch_path, try_temp_path, validate, Content, Digest, Entry,
    EntryKind, IncrementRecord, UpdateRecord,
};
use crashsafe::path::RelPath;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn entry(updates: usize) -> Entry {
    let seq = 0x1234;
    let updates = (0..updates)
        .map(|i| {
            let target = RelPath::new(&format!("data/dir{}/file-{i}.bin", i % 16)).unwrap();
            UpdateRecord {
                temp: Some(temp_path(&target, seq, i)),
                target,
                old: Content::Present(Digest::of(format!("old {i}").as_bytes())),
                new: Content::Present(Digest::of(format!("new {i}").as_bytes())),
                increment: (i % 4 == 0).then(|| IncrementRecord {
                    path: RelPath::new(&format!("increments/file-{i}.1")).unwrap(),
                    content: Content::Present(Digest::of(b"delta")),
                }),
            }
        })
        .collect();
    Entry {
        seq,
        kind: EntryKind::Intent { atomic: true },
        updates,
    }
}

const SIZES: [(&str, usize); 3] = [
    ("small_1_update", 1),
    ("batch_64_updates", 64),
    ("large_1000_updates", 1000),
];

fn bench(c: &mut Criterion, group_name: &str, bytes: bool) {
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, n) in SIZES {
        let e = entry(n);
        let encoded = encode(&e).unwrap();
        group.throughput(if bytes {
            Throughput::Bytes(encoded.len() as u64)
        } else {
            Throughput::Elements(1)
        });
        group.bench_with_input(BenchmarkId::new("encode", name), &e, |b, e| {
            b.iter(|| encode(black_box(e)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("decode", name), &encoded, |b, bytes| {
            b.iter(|| decode(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

fn format_bytes(c: &mut Criterion) {
    bench(c, "format_bytes", true);
}

fn format_entries(c: &mut Criterion) {
    bench(c, "format_entries", false);
}

/// `validate` alone, and the paths recovery derives for every update it looks at.
fn format_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("format_rules");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let e = entry(64);
    group.bench_function("validate/batch_64_updates", |b| {
        b.iter(|| validate(black_box(&e)).unwrap())
    });
    let target = RelPath::new("data/dir7/file-39.bin").unwrap();
    group.bench_function("derive/temp_path", |b| {
        b.iter(|| try_temp_path(black_box(&target), black_box(0x1234), black_box(39)).unwrap())
    });
    group.bench_function("derive/scratch_path", |b| {
        b.iter(|| try_scratch_path(black_box(&target), black_box(0x1234), black_box(39)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, format_bytes, format_entries, format_rules);
criterion_main!(benches);
