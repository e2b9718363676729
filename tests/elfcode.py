"""elfcode.py - what the stack tests need to know of ELF files, read here
rather than through the tools under test: the executable segments of an
object, and the function symbols that cover an address. And the check that
every frame of every stack in a trace is a return address inside an
executable segment of a module the trace lists."""
import functools
import re
import struct
import subprocess

PT_LOAD, PF_X = 1, 1
SHT_SYMTAB, SHT_DYNSYM = 2, 11
STT_FUNC = 2


@functools.lru_cache(maxsize=None)
def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def segments(path):
    """[(vaddr, memsz, executable)] of the PT_LOAD segments of a 64-bit
    little-endian ELF file, or None if it cannot be read."""
    data = _read(path)
    if not data or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    out = []
    for i in range(phnum):
        p_type, p_flags, _off, vaddr, _paddr, _filesz, memsz, _align = \
            struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == PT_LOAD:
            out.append((vaddr, memsz, bool(p_flags & PF_X)))
    return out


@functools.lru_cache(maxsize=None)
def functions(path):
    """Sorted [(start, end, name)] of the function symbols of .symtab and
    .dynsym."""
    data = _read(path)
    if not data or data[:4] != b"\x7fELF":
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    out = []
    for _name, sh_type, _flags, _addr, off, size, link, _info, _align, entsize in sections:
        if sh_type not in (SHT_SYMTAB, SHT_DYNSYM) or not entsize:
            continue
        strtab = sections[link]
        for j in range(size // entsize):
            st_name, st_info, _other, shndx, value, st_size = \
                struct.unpack_from("<IBBHQQ", data, off + j * entsize)
            if st_info & 0xf != STT_FUNC or not value or not shndx:
                continue
            s = strtab[4] + st_name
            name = data[s:data.index(b"\0", s)].decode(errors="replace")
            out.append((value, value + max(st_size, 1), name))
    out.sort()
    return out


def function_at(path, vaddr):
    """The name of the function of path covering vaddr, or None."""
    for start, end, name in functions(path):
        if start <= vaddr < end:
            return name.split("@")[0]
    return None


def parse_dump(text):
    """Modules ((start, end, bias, path)) and stacks ({id: [frames]}) of a
    trace's `ctrace dump`: the stacks as the file holds them, unnamed."""
    modules, stacks = set(), {}
    for line in text.splitlines():
        m = re.match(r'# module 0x([0-9a-f]+)-0x([0-9a-f]+) "(.*)" build-id \S* bias 0x([0-9a-f]+)',
                     line)
        if m:
            modules.add((int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16),
                         m.group(3)))
            continue
        m = re.match(r"- \d+ stack id=(\d+) frames=\[([^\]]*)\]", line)
        if m:
            stacks[int(m.group(1))] = [int(f, 16) for f in m.group(2).split(",") if f]
    return sorted(modules), stacks


def module_of(modules, pc):
    for start, end, bias, path in modules:
        if start <= pc - 1 < end:
            return start, end, bias, path
    return None


def frame_in_code(modules, pc):
    """Whether return address pc follows a call inside an executable
    segment of one of the modules (the whole module where its file cannot
    be read, as the kernel's vDSO)."""
    mod = module_of(modules, pc)
    if not mod:
        return False
    start, end, bias, path = mod
    segs = segments(path)
    if segs is None:
        return True
    return any(x and vaddr <= pc - 1 - bias < vaddr + memsz for vaddr, memsz, x in segs)


def frames_outside_code(ctrace, trace):
    """The frames of the trace's stacks that are not return addresses in
    executable segments, as (stack id, frame); and the dump's stacks."""
    r = subprocess.run([ctrace, "dump", trace], capture_output=True, text=True, timeout=120)
    modules, stacks = parse_dump(r.stdout)
    bad = [(sid, hex(pc)) for sid, frames in stacks.items() for pc in frames
           if not frame_in_code(modules, pc)]
    return bad, stacks, modules


def names(modules, frames):
    """Each frame as the function of its module's symbols (module+offset
    where the module has none for it)."""
    out = []
    for pc in frames:
        mod = module_of(modules, pc)
        if not mod:
            out.append(hex(pc))
            continue
        start, end, bias, path = mod
        out.append(function_at(path, pc - 1 - bias) or f"{path.rsplit('/', 1)[-1]}+{pc - bias:#x}")
    return out
