//! The four standard MNIST files and their names.

use std::fmt;

/// Whether an IDX file holds images or labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxKind {
    /// `idx3-ubyte`: a count of 28x28 `u8` images (magic 2051).
    Images,
    /// `idx1-ubyte`: a count of `u8` labels (magic 2049).
    Labels,
}

impl IdxKind {
    /// The IDX magic number for this kind.
    pub const fn magic(self) -> u32 {
        match self {
            IdxKind::Images => 2051,
            IdxKind::Labels => 2049,
        }
    }

    /// `"images"` or `"labels"`.
    pub const fn noun(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
}

/// One of the four standard MNIST files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MnistFile {
    /// `train-images-idx3-ubyte`: 60,000 training images.
    TrainImages,
    /// `train-labels-idx1-ubyte`: 60,000 training labels.
    TrainLabels,
    /// `t10k-images-idx3-ubyte`: 10,000 test images.
    TestImages,
    /// `t10k-labels-idx1-ubyte`: 10,000 test labels.
    TestLabels,
}

impl MnistFile {
    /// All four files, in the conventional order.
    pub const ALL: [MnistFile; 4] = [
        MnistFile::TrainImages,
        MnistFile::TrainLabels,
        MnistFile::TestImages,
        MnistFile::TestLabels,
    ];

    /// The uncompressed file name, e.g. `train-images-idx3-ubyte`.
    pub const fn raw_name(self) -> &'static str {
        match self {
            MnistFile::TrainImages => "train-images-idx3-ubyte",
            MnistFile::TrainLabels => "train-labels-idx1-ubyte",
            MnistFile::TestImages => "t10k-images-idx3-ubyte",
            MnistFile::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    /// The compressed file name, e.g. `train-images-idx3-ubyte.gz`.
    pub const fn gz_name(self) -> &'static str {
        match self {
            MnistFile::TrainImages => "train-images-idx3-ubyte.gz",
            MnistFile::TrainLabels => "train-labels-idx1-ubyte.gz",
            MnistFile::TestImages => "t10k-images-idx3-ubyte.gz",
            MnistFile::TestLabels => "t10k-labels-idx1-ubyte.gz",
        }
    }

    /// Whether the file holds images or labels.
    pub const fn kind(self) -> IdxKind {
        match self {
            MnistFile::TrainImages | MnistFile::TestImages => IdxKind::Images,
            MnistFile::TrainLabels | MnistFile::TestLabels => IdxKind::Labels,
        }
    }

    /// Position in [`MnistFile::ALL`], handy for indexing per-file tables.
    pub const fn index(self) -> usize {
        match self {
            MnistFile::TrainImages => 0,
            MnistFile::TrainLabels => 1,
            MnistFile::TestImages => 2,
            MnistFile::TestLabels => 3,
        }
    }
}

impl fmt::Display for MnistFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gz_name())
    }
}
