/**
 * The PyTorch allowlist for the restricted pickle machine, modelled on
 * `torch/_weights_only_unpickler.py` (`_get_allowed_globals`): tensor rebuild functions
 * (`torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`, ...), `collections.OrderedDict`,
 * storage types of every dtype, `torch.Size`, dtypes, devices, `_codecs.encode`, sets.
 *
 * Unlike `weights_only`, a global outside the allowlist does not stop the read: it becomes an
 * inert {@link PyGlobal}, and calling or instantiating it an inert {@link PyOpaque}. Whether that
 * is acceptable is decided later by where it sits (torchCheckpoint.ts refuses it on the path to
 * the weights). Nothing is imported, called or executed, ever.
 */
import { PickleError, type PickleResolver } from './pickleMachine';
import { PyBytes, PyDict, PyGlobal, PyHostValue, PyList, PyOpaque, PySet, PyTuple, describePy, type PyValue } from './pickleValues';
import { dtypeSize, type TensorDtype } from './tensorDtypes';

/** Largest tensor this reader materialises (elements); larger shapes are refused when read. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;

/** A storage named by a persistent id: `('storage', StorageType, key, location, numel)`. */
export class TorchStorageRef extends PyHostValue {
  readonly kind = 'storage';
  constructor(
    /** Entry `<archive>/data/<key>` of the zip. */
    readonly key: string,
    /** Element type, or undefined for storage types this reader cannot average (complex, quantized). */
    readonly dtype: TensorDtype | undefined,
    /** The storage type's name, e.g. `FloatStorage`. */
    readonly typeName: string,
    /** Elements (bytes for an untyped storage). */
    readonly numel: number,
    readonly location: string,
  ) {
    super();
  }
}

/** A tensor (or Parameter) as a view of a storage: nothing of its data is read. */
export class TorchTensorRef extends PyHostValue {
  readonly kind = 'tensor';
  constructor(
    readonly storage: TorchStorageRef,
    readonly dtype: TensorDtype,
    readonly shape: readonly number[],
    /** In elements. */
    readonly strides: readonly number[],
    /** In elements. */
    readonly storageOffset: number,
  ) {
    super();
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** An allowlisted global: what it is for the reader. */
export class TorchGlobal extends PyHostValue {
  readonly kind = 'global';
  constructor(
    readonly qualified: string,
    readonly role: GlobalRole,
    /** For storage types and dtypes. */
    readonly dtype?: TensorDtype,
  ) {
    super();
  }
}

type GlobalRole =
  | 'OrderedDict' | 'Counter' | 'rebuild_tensor' | 'rebuild_tensor_v2' | 'rebuild_tensor_v3' | 'rebuild_parameter'
  | 'rebuild_parameter_with_state' | 'rebuild_from_type_v2' | 'Parameter' | 'Size' | 'device' | 'get_layout'
  | 'encode' | 'set' | 'frozenset' | 'bytearray' | 'complex' | 'storage' | 'dtype' | 'tensor_type' | 'unsupported';

const STORAGE_DTYPES: Record<string, TensorDtype | undefined> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
  ComplexFloatStorage: undefined, ComplexDoubleStorage: undefined, QInt8Storage: undefined, QUInt8Storage: undefined,
  QInt32Storage: undefined, QUInt4x2Storage: undefined, QUInt2x4Storage: undefined,
};

const TORCH_DTYPES: Record<string, TensorDtype | undefined> = {
  float32: 'F32', float: 'F32', float64: 'F64', double: 'F64', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  uint16: 'U16', uint32: 'U32', uint64: 'U64', float8_e4m3fn: 'F8_E4M3', float8_e5m2: 'F8_E5M2',
  complex64: undefined, complex128: undefined, cfloat: undefined, cdouble: undefined, complex32: undefined,
};

const FIXED: Record<string, GlobalRole> = {
  'collections.OrderedDict': 'OrderedDict',
  'collections.Counter': 'Counter',
  'torch._utils._rebuild_tensor': 'rebuild_tensor',
  'torch._utils._rebuild_tensor_v2': 'rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3': 'rebuild_tensor_v3',
  'torch._utils._rebuild_parameter': 'rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state': 'rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2': 'rebuild_from_type_v2',
  'torch.nn.parameter.Parameter': 'Parameter',
  'torch.Size': 'Size',
  'torch.device': 'device',
  'torch.serialization._get_layout': 'get_layout',
  '_codecs.encode': 'encode',
  'builtins.set': 'set',
  'builtins.frozenset': 'frozenset',
  'builtins.bytearray': 'bytearray',
  'builtins.complex': 'complex',
  'torch.Tensor': 'tensor_type',
  // Allowlisted by PyTorch but not built here: a tensor of these kinds becomes `unsupported`.
  'torch._utils._rebuild_qtensor': 'unsupported',
  'torch._utils._rebuild_sparse_tensor': 'unsupported',
  'torch._utils._rebuild_meta_tensor_no_storage': 'unsupported',
  'torch._utils._rebuild_wrapper_subclass': 'unsupported',
  'torch._utils._rebuild_device_tensor_from_numpy': 'unsupported',
  'torch._utils._rebuild_device_tensor_from_cpu_tensor': 'unsupported',
};

/** Python 2 module names that protocol-2 pickles may carry (torch's IMPORT_MAPPING subset). */
const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/**
 * Resolves globals, calls and persistent ids of a `torch.save` pickle. After unpickling,
 * `foreignGlobals` lists every non-allowlisted global the pickle named and `foreignCalls` those
 * it would have called (REDUCE), both as `module.name`.
 */
export class TorchPickleResolver implements PickleResolver {
  readonly foreignGlobals = new Set<string>();
  readonly foreignCalls = new Set<string>();
  /** Storages by key, in first-seen order. */
  readonly storages = new Map<string, TorchStorageRef>();

  global(moduleName: string, name: string): PyValue {
    const module = MODULE_ALIASES[moduleName] ?? moduleName;
    const qualified = `${module}.${name}`;
    const role = FIXED[qualified];
    if (role) return new TorchGlobal(qualified, role);
    if ((module === 'torch' || module === 'torch.cuda' || module === 'torch.storage') && name in STORAGE_DTYPES) {
      return new TorchGlobal(qualified, 'storage', STORAGE_DTYPES[name]);
    }
    if (module === 'torch' && name in TORCH_DTYPES) return new TorchGlobal(qualified, 'dtype', TORCH_DTYPES[name]);
    if ((module === 'torch' || module === 'torch.cuda') && /^[A-Z][A-Za-z0-9]*Tensor$/.test(name)) return new TorchGlobal(qualified, 'tensor_type');
    this.foreignGlobals.add(qualified);
    return new PyGlobal(module, name);
  }

  call(fn: PyValue, args: PyTuple): PyValue {
    if (fn instanceof PyGlobal) {
      this.foreignCalls.add(fn.qualified);
      return new PyOpaque(fn.qualified, 'call');
    }
    if (fn instanceof PyOpaque) return new PyOpaque(fn.global, 'call');
    if (!(fn instanceof TorchGlobal)) throw new PickleError(`REDUCE calls ${describePy(fn)}, which is not callable`);
    const a = args.items;
    switch (fn.role) {
      case 'OrderedDict': case 'Counter': {
        const d = new PyDict(fn.role);
        const pairs = a[0];
        if (pairs instanceof PyList || pairs instanceof PyTuple) {
          for (const p of pairs instanceof PyList ? pairs.items : pairs.items) {
            if (!(p instanceof PyTuple || p instanceof PyList) || (p instanceof PyTuple ? p.items : p.items).length !== 2) {
              throw new PickleError(`${fn.qualified} given an item that is not a (key, value) pair`);
            }
            const [k, v] = p instanceof PyTuple ? p.items : p.items;
            d.map.set(k, v);
          }
        }
        return d;
      }
      case 'rebuild_tensor': case 'rebuild_tensor_v2':
        return rebuildTensor(fn.qualified, a[0], a[1], a[2], a[3], undefined);
      case 'rebuild_tensor_v3':
        return rebuildTensor(fn.qualified, a[0], a[1], a[2], a[3], a[6]);
      case 'rebuild_parameter': case 'rebuild_parameter_with_state': case 'Parameter':
        return tensorArgument(fn.qualified, a[0]);
      case 'rebuild_from_type_v2': {
        // (func, new_type, args, state): the tensor is func(*args); plain Tensor/Parameter types only.
        const [inner, newType, innerArgs] = a;
        if (!(newType instanceof TorchGlobal && (newType.role === 'tensor_type' || newType.role === 'Parameter'))) {
          if (newType instanceof PyGlobal) {
            this.foreignCalls.add(newType.qualified);
            return new PyOpaque(newType.qualified, 'call');
          }
          throw new PickleError(`${fn.qualified} builds ${describePy(newType)}, not a tensor type`);
        }
        if (!(innerArgs instanceof PyTuple)) throw new PickleError(`${fn.qualified} given ${describePy(innerArgs)} as arguments`);
        return this.call(inner, innerArgs);
      }
      case 'Size': {
        const dims = a[0];
        if (!(dims instanceof PyTuple || dims instanceof PyList)) throw new PickleError(`torch.Size given ${describePy(dims)}`);
        return new PyTuple(dims.items);
      }
      case 'device': case 'get_layout':
        return typeof a[0] === 'string' ? a[0] : typeof a[0] === 'number' ? `device ${a[0]}` : describePy(a[0]);
      case 'encode': {
        // _codecs.encode(text, 'latin1'): how protocol 2 carries `bytes`.
        if (typeof a[0] !== 'string') throw new PickleError(`_codecs.encode given ${describePy(a[0])}`);
        return new PyBytes(Uint8Array.from(a[0], (c) => c.charCodeAt(0) & 0xff));
      }
      case 'set': case 'frozenset': {
        const s = new PySet();
        const src = a[0];
        if (src instanceof PyList || src instanceof PyTuple || src instanceof PySet) for (const v of src.items) s.items.push(v);
        return s;
      }
      case 'bytearray':
        return a[0] instanceof PyBytes ? a[0] : new PyBytes(new Uint8Array(0));
      case 'complex':
        return new PyTuple(a);
      case 'unsupported':
        return new PyOpaque(fn.qualified, 'unsupported');
      case 'storage': case 'dtype': case 'tensor_type':
        return new PyOpaque(fn.qualified, 'unsupported');
    }
  }

  newObject(cls: PyValue, args: PyTuple): PyValue {
    if (cls instanceof PyGlobal) return new PyOpaque(cls.qualified, 'instance');
    if (cls instanceof TorchGlobal) {
      if (cls.role === 'OrderedDict' || cls.role === 'Counter') return new PyDict(cls.role);
      if (cls.role === 'set' || cls.role === 'frozenset') return new PySet();
      if (cls.role === 'Parameter') return tensorArgument(cls.qualified, args.items[0]);
      return new PyOpaque(cls.qualified, 'unsupported');
    }
    throw new PickleError(`NEWOBJ of ${describePy(cls)}, which is not a class`);
  }

  build(target: PyValue, state: PyValue): PyValue {
    if (target instanceof PyDict) {
      target.attributes = state;
      return target;
    }
    // A placeholder keeps no state; a tensor's state (requires_grad, hooks) does not matter here.
    if (target instanceof PyOpaque || target instanceof TorchTensorRef) return target;
    throw new PickleError(`BUILD on ${describePy(target)} is refused (only dicts, tensors and placeholders)`);
  }

  persistentLoad(pid: PyValue): PyValue {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      throw new PickleError(`persistent id ${describePy(pid)} is not ('storage', type, key, location, numel)`);
    }
    const [, type, rawKey, location, numel] = pid.items;
    if (!(type instanceof TorchGlobal && type.role === 'storage')) {
      if (type instanceof PyGlobal) throw new PickleError(`storage type ${type.qualified} is not a torch storage type`, true);
      throw new PickleError(`storage type ${describePy(type)} is not a torch storage type`);
    }
    const key = typeof rawKey === 'number' ? String(rawKey) : rawKey;
    if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,128}$/.test(key) || key.includes('..')) {
      throw new PickleError(`storage key ${describePy(rawKey)} is not a plain name`);
    }
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new PickleError(`storage "${key}" declares ${describePy(numel)} elements`);
    const known = this.storages.get(key);
    if (known) {
      if (known.typeName !== type.qualified.split('.').pop() || known.numel !== numel) {
        throw new PickleError(`storage "${key}" is declared twice, as ${known.typeName}[${known.numel}] and ${type.qualified}[${numel}]`);
      }
      return known;
    }
    const ref = new TorchStorageRef(key, type.dtype, type.qualified.split('.').pop() as string, numel, typeof location === 'string' ? location : 'cpu');
    this.storages.set(key, ref);
    return ref;
  }
}

function tensorArgument(what: string, v: PyValue | undefined): PyValue {
  if (v instanceof TorchTensorRef || v instanceof PyOpaque) return v;
  throw new PickleError(`${what} given ${describePy(v)}, not a tensor`);
}

function intTuple(what: string, v: PyValue | undefined): number[] {
  if (!(v instanceof PyTuple || v instanceof PyList)) throw new PickleError(`${what} is ${describePy(v)}, not a tuple of integers`);
  return v.items.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new PickleError(`${what} holds ${describePy(d)}, not a non-negative integer`);
    return d;
  });
}

/**
 * A tensor view checked against its storage: shape and strides of equal rank, at most
 * {@link MAX_TENSOR_ELEMENTS} elements, and every element inside the storage.
 */
function rebuildTensor(what: string, storage: PyValue | undefined, offset: PyValue | undefined, size: PyValue | undefined, stride: PyValue | undefined, dtypeArg: PyValue | undefined): PyValue {
  if (storage instanceof PyOpaque) return new PyOpaque(storage.global, storage.how);
  if (!(storage instanceof TorchStorageRef)) throw new PickleError(`${what} given ${describePy(storage)}, not a storage`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new PickleError(`${what}: storage offset ${describePy(offset)} is not a non-negative integer`);
  const shape = intTuple(`${what}: shape`, size);
  const strides = intTuple(`${what}: stride`, stride);
  if (shape.length !== strides.length) throw new PickleError(`${what}: shape [${shape.join(', ')}] and stride [${strides.join(', ')}] differ in rank`);
  let dtype = storage.dtype;
  let storageElements = storage.numel;
  if (dtypeArg !== undefined) {
    // v3: an untyped (byte) storage and the dtype given separately.
    if (!(dtypeArg instanceof TorchGlobal && dtypeArg.role === 'dtype')) throw new PickleError(`${what}: dtype ${describePy(dtypeArg)} is not a torch dtype`);
    dtype = dtypeArg.dtype;
    if (dtype && storage.dtype === 'U8') {
      storageElements = Math.floor(storage.numel / dtypeSize(dtype));
    }
  }
  if (!dtype) return new PyOpaque(`torch.${storage.typeName}`, 'unsupported');
  let numel = 1;
  for (const d of shape) numel *= d;
  if (numel > MAX_TENSOR_ELEMENTS) throw new PickleError(`${what}: shape [${shape.join(', ')}] has ${numel} elements, over the limit of ${MAX_TENSOR_ELEMENTS}`);
  if (numel > 0) {
    let last = offset;
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * strides[i];
    if (!Number.isSafeInteger(last) || last >= storageElements) {
      throw new PickleError(`${what}: a view of shape [${shape.join(', ')}], stride [${strides.join(', ')}] at offset ${offset} runs past its storage "${storage.key}" of ${storageElements} elements`);
    }
  }
  return new TorchTensorRef(storage, dtype, shape, strides, offset);
}
