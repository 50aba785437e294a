"""Read a TensorFlow (TF1 ``tf.train.Saver`` / TF2 ``tf.train.Checkpoint``) V2 checkpoint without TensorFlow.

A V2 checkpoint ``PREFIX`` is two kinds of files (``tensorflow/core/util/tensor_bundle/``):

- ``PREFIX.index``: an immutable LevelDB-style table (``tensorflow/core/lib/io/table*``, ``format.*``,
  ``block.*``): data blocks, a metaindex block, an index block and a 48-byte footer (two varint
  ``BlockHandle``\\ s = (offset, size), zero padding to 40 bytes, the little-endian magic
  ``0xdb4775248b80fb57``). Each block ends with a 5-byte trailer (1 byte compression type, 0 = none,
  1 = Snappy; 4 bytes masked CRC32C). A block's entries are prefix-compressed: varint32 ``shared``,
  ``non_shared``, ``value_length``, the key's non-shared bytes, the value; then ``uint32`` restart offsets
  and their count. The index block maps each data block's last key to its ``BlockHandle``.
- The table's keys are the tensor names; the first key, the empty string, holds a ``BundleHeaderProto``
  (``tensor_bundle.proto``: ``num_shards`` = 1, ``endianness`` = 2 (0 = little), ``version`` = 3); every
  other value is a ``BundleEntryProto``: ``dtype`` = 1 (``types.proto`` ``DataType``), ``shape`` = 2
  (``TensorShapeProto``: repeated ``dim`` = 2 of ``{size = 1}``), ``shard_id`` = 3, ``offset`` = 4,
  ``size`` = 5, ``crc32c`` = 6 (fixed32, the tensor bytes' CRC32C, masked as LevelDB masks it), ``slices``
  = 7 (partitioned variables).
- ``PREFIX.data-SSSSS-of-NNNNN``: the shards, raw little-endian tensor bytes at each entry's offset.

Supported: uncompressed index blocks (what TensorFlow writes), little-endian bundles, dtypes float32,
float64, float16, int32 and int64, any number of shards. Anything else (Snappy blocks, string / bool /
resource tensors, partitioned variables, a truncated or corrupt file) is refused with one line naming the
problem (:class:`~mmv3.converters.common.ConversionError`, exit 2 in the tools), never half-read.
"""
import glob
import os.path as osp
import struct
from collections import OrderedDict

import numpy as np

from .common import ConversionError

TABLE_MAGIC = 0xdb4775248b80fb57
FOOTER_SIZE = 48  # 2 * BlockHandle::kMaxEncodedLength (20) + 8 (magic)
BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes masked CRC32C
HEADER_KEY = b''  # tensor_bundle.cc: kHeaderEntryKey
# types.proto DataType -> numpy little-endian dtype (the ones a MobileNet checkpoint holds, and a few more)
DTYPES = {1: '<f4', 2: '<f8', 3: '<i4', 9: '<i8', 19: '<f2'}
DTYPE_NAMES = {1: 'float32', 2: 'float64', 3: 'int32', 4: 'uint8', 5: 'int16', 6: 'int8', 7: 'string',
               8: 'complex64', 9: 'int64', 10: 'bool', 14: 'bfloat16', 19: 'float16', 20: 'resource',
               21: 'variant'}
_CRC_TABLE = None


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) of ``data`` (bytes-like), as TensorFlow's ``crc32c::Value``."""
    global _CRC_TABLE
    if _CRC_TABLE is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        _CRC_TABLE = table
    tab = _CRC_TABLE
    crc ^= 0xFFFFFFFF
    for b in bytes(data):
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def unmask_crc(masked):
    """LevelDB's ``crc32c::Unmask``: the stored checksums are rotated right by 15 bits plus a constant."""
    rot = (masked - 0xa282ead8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _varint(buf, pos, what):
    """Decode an unsigned varint at ``pos`` -> (value, new pos)."""
    result, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ConversionError(f'{what}: a varint runs past its end (truncated or not a TF checkpoint)')
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf, what):
    """Protobuf wire format -> list of (field number, wire type, value): ints for varint / fixed, bytes for
    length-delimited fields."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos, what)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos, what)
        elif wire == 1:
            value, pos = struct.unpack_from('<Q', buf, pos)[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack_from('<I', buf, pos)[0], pos + 4
        elif wire == 2:
            n, pos = _varint(buf, pos, what)
            value, pos = bytes(buf[pos:pos + n]), pos + n
        else:
            raise ConversionError(f'{what}: unsupported protobuf wire type {wire} (corrupt index?)')
        if pos > len(buf):
            raise ConversionError(f'{what}: a protobuf field runs past its end (truncated or corrupt index)')
        out.append((field, wire, value))
    return out


class BundleEntry:
    """Where one tensor lives: dtype (``DataType`` enum), shape, shard, byte offset / size, CRC32C."""

    def __init__(self, name, value, index_path):
        what = f'{index_path}: entry {name!r}'
        self.name, self.dtype, self.shape, self.shard, self.offset, self.size = name, 1, (), 0, 0, 0
        self.crc, self.sliced = None, False
        for field, _, v in _proto_fields(value, what):
            if field == 1:
                self.dtype = v
            elif field == 2:
                dims = []
                for f2, _, dim in _proto_fields(v, what):
                    if f2 == 2:
                        size = dict((f3, x) for f3, _, x in _proto_fields(dim, what)).get(1, 0)
                        dims.append(size - (1 << 64) if size >= 1 << 63 else size)
                    elif f2 == 3 and dim:
                        raise ConversionError(f'{what} has an unknown rank; not a saved variable')
                self.shape = tuple(dims)
            elif field == 3:
                self.shard = v
            elif field == 4:
                self.offset = v
            elif field == 5:
                self.size = v
            elif field == 6:
                self.crc = v
            elif field == 7:
                self.sliced = True


def _read_block(buf, handle, index_path):
    """The contents of the block at ``handle`` = (offset, size), trailer checked."""
    offset, size = handle
    end = offset + size + BLOCK_TRAILER_SIZE
    if end > len(buf) - FOOTER_SIZE:
        raise ConversionError(f'{index_path} is truncated: a block ends at byte {end}, the file has '
                              f'{len(buf)} bytes; copy the checkpoint again')
    ctype = buf[offset + size]
    if ctype != 0:
        raise ConversionError(f'{index_path}: block at byte {offset} is compressed (type {ctype}, 1 = Snappy); '
                              'only uncompressed checkpoint indexes (what TensorFlow writes) are supported')
    stored = struct.unpack_from('<I', buf, offset + size + 1)[0]
    if unmask_crc(stored) != crc32c(buf[offset:offset + size + 1]):  # LevelDB: CRC of contents + type byte
        raise ConversionError(f'{index_path}: block at byte {offset} fails its CRC32C check (corrupt file); '
                              'copy the checkpoint again')
    return buf[offset:offset + size]


def _block_entries(block, index_path):
    """Yield (key, value) of a table block (prefix-compressed keys)."""
    if len(block) < 4:
        raise ConversionError(f'{index_path}: a block is shorter than its restart count (corrupt index)')
    num_restarts = struct.unpack_from('<I', block, len(block) - 4)[0]
    limit = len(block) - 4 * (num_restarts + 1)
    if limit < 0:
        raise ConversionError(f'{index_path}: a block has more restart points than bytes (corrupt index)')
    pos, key = 0, b''
    while pos < limit:
        shared, pos = _varint(block, pos, index_path)
        non_shared, pos = _varint(block, pos, index_path)
        value_len, pos = _varint(block, pos, index_path)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise ConversionError(f'{index_path}: a block entry runs past its block (corrupt index)')
        key = key[:shared] + bytes(block[pos:pos + non_shared])
        pos += non_shared
        yield key, bytes(block[pos:pos + value_len])
        pos += value_len


def checkpoint_prefix(path):
    """``PREFIX`` of a checkpoint given as the prefix, its ``.index`` / ``.data-*`` file or a directory
    holding exactly one checkpoint."""
    if osp.isdir(path):
        found = sorted(glob.glob(osp.join(path, '*.index')))
        if len(found) != 1:
            raise ConversionError(f'{path} is a directory with {len(found)} checkpoint .index files; give the '
                                  'checkpoint prefix (e.g. DIR/model.ckpt)')
        return found[0][:-len('.index')]
    if path.endswith('.index'):
        return path[:-len('.index')]
    if '.data-' in osp.basename(path):
        return path[:path.rindex('.data-')]
    return path


class TFCheckpoint:
    """A TF V2 checkpoint opened for reading: ``names``, ``shape(name)``, ``dtype(name)``, ``read(name)``.

    Args:
        path (str): The checkpoint prefix (``model.ckpt``), its ``.index`` file or its directory.
        verify_crc (bool): Check every tensor's CRC32C (pure Python: about 5-10 MB/s). Default: True.

    Raises:
        ConversionError: A missing, truncated or corrupt file, or anything unsupported (one line).
    """

    def __init__(self, path, verify_crc=True):
        self.prefix = checkpoint_prefix(path)
        self.verify_crc = verify_crc
        self.index_path = index_path = self.prefix + '.index'
        if not osp.isfile(index_path):
            raise ConversionError(f'{index_path} does not exist: give the checkpoint prefix (the path before '
                                  '.index / .data-00000-of-00001), e.g. deeplab_mnv3_large_cityscapes_trainfine/'
                                  'model.ckpt')
        with open(index_path, 'rb') as f:
            buf = f.read()
        if len(buf) < FOOTER_SIZE:
            raise ConversionError(f'{index_path} has {len(buf)} bytes, less than a table footer: truncated or '
                                  'not a TensorFlow checkpoint index')
        footer = buf[-FOOTER_SIZE:]
        if struct.unpack_from('<Q', footer, 40)[0] != TABLE_MAGIC:
            raise ConversionError(f'{index_path} is not a TensorFlow V2 checkpoint index (no table magic number '
                                  'at its end: truncated, or a V1 / other file)')
        pos = 0
        _, pos = _varint(footer, pos, index_path)  # metaindex handle: unused by TF (empty)
        _, pos = _varint(footer, pos, index_path)
        index_off, pos = _varint(footer, pos, index_path)
        index_size, pos = _varint(footer, pos, index_path)
        index_block = _read_block(buf, (index_off, index_size), index_path)
        entries, header = OrderedDict(), None
        for _, handle in _block_entries(index_block, index_path):
            off, p = _varint(handle, 0, index_path)
            size, _ = _varint(handle, p, index_path)
            for key, value in _block_entries(_read_block(buf, (off, size), index_path), index_path):
                if key == HEADER_KEY:
                    header = value
                    continue
                name = key.decode('utf-8', errors='replace')
                entries[name] = BundleEntry(name, value, index_path)
        if header is None:
            raise ConversionError(f'{index_path} has no bundle header entry: not a TensorFlow V2 checkpoint')
        head = {f: v for f, _, v in _proto_fields(header, index_path)}
        self.num_shards = head.get(1, 1)
        if head.get(2, 0) != 0:
            raise ConversionError(f'{index_path} is a big-endian checkpoint; only little-endian is supported')
        self.entries = entries
        for e in entries.values():
            if e.sliced:
                raise ConversionError(f'{index_path}: tensor {e.name!r} is saved as slices of a partitioned '
                                      'variable, which this reader does not assemble')
            if e.dtype not in DTYPES:
                raise ConversionError(
                    f'{index_path}: tensor {e.name!r} has dtype {DTYPE_NAMES.get(e.dtype, e.dtype)}; supported: '
                    f'{sorted(DTYPE_NAMES[d] for d in DTYPES)}')
            if not 0 <= e.shard < self.num_shards:
                raise ConversionError(f'{index_path}: tensor {e.name!r} is in shard {e.shard} of '
                                      f'{self.num_shards} (corrupt index)')
            want = int(np.prod(e.shape, dtype=np.int64)) * np.dtype(DTYPES[e.dtype]).itemsize
            if e.size != want:
                raise ConversionError(f'{index_path}: tensor {e.name!r} of shape {e.shape} has {e.size} bytes, '
                                      f'expected {want} (corrupt index)')
        self._shards = {}

    @property
    def names(self):
        """Tensor names, in the index's (sorted) order."""
        return list(self.entries)

    def shape(self, name):
        return self.entries[name].shape

    def dtype(self, name):
        return np.dtype(DTYPES[self.entries[name].dtype])

    def shard_path(self, shard):
        return f'{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}'

    def _shard(self, shard):
        if shard not in self._shards:
            path = self.shard_path(shard)
            if not osp.isfile(path):
                raise ConversionError(f'{path} does not exist: a checkpoint is its .index file and all its '
                                      f'{self.num_shards} .data-* shard(s); copy them together')
            self._shards[shard] = np.memmap(path, dtype=np.uint8, mode='r') if osp.getsize(path) else \
                np.zeros(0, np.uint8)
        return self._shards[shard]

    def read(self, name):
        """The tensor ``name`` as a (C-contiguous, native-endian) numpy array."""
        if name not in self.entries:
            raise ConversionError(f'{self.index_path} has no tensor {name!r}')
        e = self.entries[name]
        data = self._shard(e.shard)
        if e.offset + e.size > data.size:
            raise ConversionError(f'{self.shard_path(e.shard)} is truncated: tensor {name!r} ends at byte '
                                  f'{e.offset + e.size}, the file has {data.size} bytes; copy the checkpoint again')
        raw = data[e.offset:e.offset + e.size]
        if self.verify_crc and e.crc is not None and unmask_crc(e.crc) != crc32c(raw.tobytes()):
            raise ConversionError(f'{self.shard_path(e.shard)}: tensor {name!r} fails its CRC32C check (corrupt '
                                  'file); copy the checkpoint again')
        arr = np.frombuffer(raw.tobytes(), dtype=DTYPES[e.dtype]).reshape(e.shape)
        return arr.astype(arr.dtype.newbyteorder('='), copy=True)

    def read_all(self):
        """``OrderedDict`` name -> array of every tensor."""
        return OrderedDict((n, self.read(n)) for n in self.entries)


def read_tf_checkpoint(path, verify_crc=True):
    """Every tensor of the TF V2 checkpoint at ``path`` (prefix, ``.index`` or directory): name -> array."""
    return TFCheckpoint(path, verify_crc=verify_crc).read_all()
