package org.cnn4j.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Executes PTX kernels on the CPU, one thread after another: the subset of PTX ISA 7.0 that the
 * kernels of {@code native-kernels/} are written in (named registers, 1-D grids, global, shared and
 * kernel-parameter memory, {@code .func} calls, {@code bar.sync}, {@code atom.global.min}). It
 * exists so that the kernels, and the CUDA backend that launches them, can be run and compared
 * with the CPU backend on a machine without a GPU.
 *
 * <p>Arithmetic follows the PTX ISA: {@code .rn} float operations are IEEE round-to-nearest (Java's
 * float and double arithmetic, {@link Math#fma} for {@code fma.rn}), {@code max.f32} returns the
 * number when one operand is NaN, {@code setp} float comparisons are ordered. The approximate
 * instructions ({@code ex2.approx}, {@code lg2.approx}) are computed correctly rounded, so results
 * that depend on them differ from a GPU's by the hardware's few ulps; everything else should match
 * a GPU bitwise.
 *
 * <p>It is strict where a GPU is silent: a global load or store outside every live allocation or
 * misaligned, a shared access outside the declared arrays, a read of a register no instruction has
 * written, integer division by zero, a barrier inside a function, threads of a block waiting at
 * different barriers ({@code bar.sync} is {@code barrier.sync.aligned}: every thread that has not
 * exited must reach the same one; exited threads release it), launch arguments that do not match
 * the kernel's parameters (count and width), a data race in global memory (two threads of a launch
 * storing to the same word, or one reading the other's store or storing over a word the other read,
 * unordered by a barrier of their block), and one in shared memory (a thread reading a word that
 * another wrote since the last barrier, or writing one that another wrote or read since then) all
 * fail with a {@link Fault} that names the kernel, the block and thread, and the instruction.
 * Blocks run in parallel on the common pool; the threads of a block run one after another, from
 * barrier to barrier.
 */
final class PtxInterpreter {
    /** Global memory as the emulated device holds it: allocations, each a little-endian buffer. */
    interface Memory {
        /** The allocation that holds the {@code bytes} at {@code address}; throws, saying where the address lies, when none does. */
        Region region(long address, long bytes);
    }

    /**
     * One allocation: its first address, its size, its contents, and for each 4-byte word the last
     * launch, thread and barrier count that stored to it, and who read it last (see
     * {@link Block#race}), for finding data races.
     */
    record Region(long start, long size, ByteBuffer data, long[] writers, long[] readers) {
        Region(long start, long size, ByteBuffer data) {
            this(start, size, data, new long[(int) ((size + 3) / 4)], new long[(int) ((size + 3) / 4)]);
        }

        boolean holds(long address, long bytes) {
            return address >= start && address + bytes <= start + size;
        }
    }

    /** A kernel did something a GPU would not survive (or would survive silently, with a wrong result). */
    static final class Fault extends RuntimeException {
        Fault(String message) {
            super(message);
        }
    }

    // ---------------------------------------------------------------- the program

    private enum Type {
        PRED(1, false, false), B8(1, false, false), U8(1, false, false), S8(1, true, false), B16(2, false, false), U16(2, false, false),
        S16(2, true, false), B32(4, false, false), U32(4, false, false), S32(4, true, false), B64(8, false, false), U64(8, false, false),
        S64(8, true, false), F32(4, true, true), F64(8, true, true);

        final int bytes;
        final boolean signed, floating;

        Type(int bytes, boolean signed, boolean floating) {
            this.bytes = bytes;
            this.signed = signed;
            this.floating = floating;
        }

        static Type of(String suffix) {
            return valueOf(suffix.toUpperCase());
        }

        /** Raw bits kept in a register of this type: the low {@code bytes}, zero-extended. */
        long fit(long bits) {
            return switch (bytes) {
                case 1 -> this == PRED ? (bits != 0 ? 1 : 0) : bits & 0xFF;
                case 2 -> bits & 0xFFFF;
                case 4 -> bits & 0xFFFFFFFFL;
                default -> bits;
            };
        }

        /** The integer value of raw bits, sign-extended for signed types. */
        long integer(long bits) {
            return switch (bytes) {
                case 1 -> signed ? (byte) bits : bits & 0xFF;
                case 2 -> signed ? (short) bits : bits & 0xFFFF;
                case 4 -> signed ? (int) bits : bits & 0xFFFFFFFFL;
                default -> bits;
            };
        }
    }

    private enum Op {
        MOV, LD, ST, ADD, SUB, MUL_LO, MUL_WIDE, MUL_HI, MUL_F, MAD_LO, FMA, DIV, REM, MIN, MAX, ABS, NEG, AND, OR, XOR, NOT, SHL, SHR,
        SETP, SELP, CVT, CVTA, BRA, CALL, RET, BAR, ATOM_MIN, ATOM_ADD, EX2, LG2, RCP, SQRT, COPYSIGN
    }

    private enum Space { PARAM, GLOBAL, SHARED }

    private static final int REG = 0, IMM = 1, TID = 2, NTID = 3, CTAID = 4, NCTAID = 5;

    /** A register, an immediate, a special register, or a symbol's address (as an immediate). */
    private record Operand(int kind, int reg, long imm) {
    }

    private static final class Insn {
        final String text;
        Op op;
        Type type, from;
        String cmp;
        Space space;
        int guard = -1;
        boolean guardNegated;
        int dest = -1;
        /** The destination register's width: results keep these bits. */
        long destMask = -1;
        Operand[] in = new Operand[0];
        /** Memory operand: base (register or address) plus offset. */
        Operand base;
        long offset;
        int target = -1;
        String label;
        Function callee;
        int[] results, arguments;

        Insn(String text) {
            this.text = text;
        }
    }

    /** A parameter of an entry: its name, type and offset in the parameter buffer. */
    private record Param(String name, Type type, int offset) {
    }

    private static final class Function {
        final String name;
        final boolean entry;
        final Map<String, Integer> registers = new HashMap<>();
        final List<Type> registerTypes = new ArrayList<>();
        long[] masks;
        final Map<String, Integer> shared = new HashMap<>();
        final List<Param> params = new ArrayList<>();
        final Map<String, Param> paramsByName = new HashMap<>();
        int paramBytes, sharedBytes;
        int[] returnRegisters = new int[0], paramRegisters = new int[0];
        Insn[] code;

        Function(String name, boolean entry) {
            this.name = name;
            this.entry = entry;
        }

        int register(String name, Type type) {
            Integer old = registers.put(name, registerTypes.size());
            if (old != null) throw new IllegalArgumentException(this.name + ": register " + name + " is declared twice");
            registerTypes.add(type);
            return registerTypes.size() - 1;
        }
    }

    private final Map<String, Function> functions = new LinkedHashMap<>();
    private static final java.util.concurrent.atomic.AtomicLong LAUNCHES = new java.util.concurrent.atomic.AtomicLong();

    /**
     * What a kernel's threads executed, summed over its launches: instructions (those a false guard
     * skipped not counted), integer divisions and remainders among them, and global loads and stores.
     * A proxy for cost on a GPU (where an integer division is a sequence of a dozen or more
     * instructions), not a timing.
     */
    record Counts(long instructions, long divisions, long globalLoads, long globalStores) {
        Counts plus(Counts o) {
            return new Counts(instructions + o.instructions, divisions + o.divisions, globalLoads + o.globalLoads, globalStores + o.globalStores);
        }
    }

    private final Map<String, Counts> counts = new java.util.concurrent.ConcurrentHashMap<>();

    /** The counts of one kernel's launches so far (zero when it never ran). */
    Counts counts(String kernel) {
        return counts.getOrDefault(kernel, new Counts(0, 0, 0, 0));
    }

    /** Parses a PTX module; throws IllegalArgumentException naming the line it does not understand. */
    PtxInterpreter(String source) {
        String text = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", "");
        Matcher header = Pattern.compile("(?:\\.visible\\s+|\\.weak\\s+)?\\.(entry|func)\\s*(\\([^)]*\\))?\\s*([A-Za-z_$][\\w$]*)\\s*\\(([^)]*)\\)\\s*\\{")
                .matcher(text);
        List<Object[]> bodies = new ArrayList<>();
        int at = 0;
        while (header.find(at)) {
            Function f = new Function(header.group(3), header.group(1).equals("entry"));
            if (f.entry) {
                for (String p : split(header.group(4))) {
                    String[] words = p.trim().split("\\s+");
                    if (words.length != 3 || !words[0].equals(".param")) throw new IllegalArgumentException(f.name + ": cannot read parameter '" + p + "'");
                    Type t = Type.of(words[1].substring(1));
                    f.paramBytes = (f.paramBytes + t.bytes - 1) / t.bytes * t.bytes;
                    Param param = new Param(words[2], t, f.paramBytes);
                    f.params.add(param);
                    f.paramsByName.put(param.name(), param);
                    f.paramBytes += t.bytes;
                }
            } else {
                f.returnRegisters = header.group(2) == null ? new int[0] : declareRegisterParams(f, header.group(2).substring(1, header.group(2).length() - 1));
                f.paramRegisters = declareRegisterParams(f, header.group(4));
            }
            int open = header.end(), depth = 1, i = open;
            while (depth > 0) {
                if (i >= text.length()) throw new IllegalArgumentException(f.name + ": no closing brace");
                char c = text.charAt(i++);
                if (c == '{') depth++;
                if (c == '}') depth--;
            }
            bodies.add(new Object[] {f, text.substring(open, i - 1)});
            functions.put(f.name, f);
            at = i;
        }
        for (Object[] b : bodies) compile((Function) b[0], (String) b[1]);
        link();
    }

    private static int[] declareRegisterParams(Function f, String list) {
        List<String> parts = split(list);
        int[] regs = new int[parts.size()];
        for (int i = 0; i < regs.length; i++) {
            String[] words = parts.get(i).trim().split("\\s+");
            if (words.length != 3 || !words[0].equals(".reg")) throw new IllegalArgumentException(f.name + ": cannot read parameter '" + parts.get(i) + "'");
            regs[i] = f.register(words[2], Type.of(words[1].substring(1)));
        }
        return regs;
    }

    private static List<String> split(String list) {
        List<String> out = new ArrayList<>();
        for (String s : list.split(",")) {
            if (!s.isBlank()) out.add(s.trim());
        }
        return out;
    }

    private static final Pattern LABEL = Pattern.compile("^\\s*([A-Za-z_$][\\w$]*)\\s*:");

    private void compile(Function f, String body) {
        List<Insn> code = new ArrayList<>();
        Map<String, Integer> labels = new HashMap<>();
        for (String raw : body.replace("{", ";").replace("}", ";").split(";")) {
            String s = raw.trim();
            Matcher m;
            while ((m = LABEL.matcher(s)).find()) {
                labels.put(m.group(1), code.size());
                s = s.substring(m.end()).trim();
            }
            if (s.isEmpty()) continue;
            if (s.startsWith(".reg")) {
                String[] words = s.split("\\s+", 3);
                Type t = Type.of(words[1].substring(1));
                for (String name : split(words[2])) f.register(name, t);
                continue;
            }
            if (s.startsWith(".shared")) {
                Matcher d = Pattern.compile("\\.shared\\s+(?:\\.align\\s+(\\d+)\\s+)?\\.(\\w+)\\s+([\\w$]+)\\s*\\[(\\d+)]").matcher(s);
                if (!d.matches()) throw new IllegalArgumentException(f.name + ": cannot read '" + s + "'");
                Type t = Type.of(d.group(2));
                int align = d.group(1) == null ? t.bytes : Integer.parseInt(d.group(1));
                f.sharedBytes = (f.sharedBytes + align - 1) / align * align;
                f.shared.put(d.group(3), f.sharedBytes);
                f.sharedBytes += t.bytes * Integer.parseInt(d.group(4));
                continue;
            }
            try {
                code.add(instruction(f, s.replaceAll("\\s+", " ")));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(f.name + ": cannot read '" + s + "': " + e.getMessage(), e);
            }
        }
        for (Insn in : code) {
            if (in.op == Op.BRA) {
                Integer target = labels.get(in.label);
                if (target == null) throw new IllegalArgumentException(f.name + ": no label " + in.label + " for '" + in.text + "'");
                in.target = target;
            }
        }
        code.add(new Insn("(end of " + f.name + ")"));
        code.getLast().op = Op.RET;
        f.code = code.toArray(new Insn[0]);
        f.masks = new long[f.registerTypes.size()];
        for (int r = 0; r < f.masks.length; r++) f.masks[r] = f.registerTypes.get(r).fit(-1);
        for (Insn in : f.code) {
            if (in.dest >= 0) in.destMask = f.masks[in.dest];
        }
    }

    private Insn instruction(Function f, String s) {
        Insn in = new Insn(s);
        if (s.startsWith("@")) {
            int space = s.indexOf(' ');
            String p = s.substring(1, space);
            in.guardNegated = p.startsWith("!");
            in.guard = register(f, in.guardNegated ? p.substring(1) : p);
            s = s.substring(space + 1);
        }
        int space = s.indexOf(' ');
        String opcode = space < 0 ? s : s.substring(0, space);
        String rest = space < 0 ? "" : s.substring(space + 1).trim();
        String[] parts = opcode.split("\\.");
        List<String> mods = new ArrayList<>(List.of(parts).subList(1, parts.length));
        if (parts[0].equals("call")) {
            Matcher m = Pattern.compile("\\(([^)]*)\\) ?, ?([\\w$]+) ?, ?\\(([^)]*)\\)").matcher(rest);
            if (!m.matches()) throw new IllegalArgumentException("expected call (results), name, (arguments)");
            in.op = Op.CALL;
            in.results = split(m.group(1)).stream().mapToInt(r -> register(f, r)).toArray();
            in.arguments = split(m.group(3)).stream().mapToInt(r -> register(f, r)).toArray();
            in.label = m.group(2);
            return in;
        }
        List<String> ops = operands(rest);
        switch (parts[0]) {
            case "bra" -> {
                in.op = Op.BRA;
                in.label = ops.getFirst();
                return in;
            }
            case "ret", "exit" -> {
                in.op = Op.RET;
                return in;
            }
            case "bar", "barrier" -> {
                if (!ops.equals(List.of("0"))) throw new IllegalArgumentException("only barrier 0 is emulated");
                in.op = Op.BAR;
                return in;
            }
            default -> {
            }
        }
        in.type = Type.of(mods.getLast());
        switch (parts[0]) {
            case "ld", "st" -> {
                in.op = parts[0].equals("ld") ? Op.LD : Op.ST;
                in.space = Space.valueOf(mods.getFirst().toUpperCase());
                String address = in.op == Op.LD ? ops.get(1) : ops.get(0);
                memory(f, in, address);
                if (in.op == Op.LD) {
                    in.dest = register(f, ops.get(0));
                } else {
                    in.in = new Operand[] {operand(f, ops.get(1), in.type)};
                }
                return in;
            }
            case "atom" -> {
                if (!mods.getFirst().equals("global")) throw new IllegalArgumentException("only global atomics are emulated");
                in.op = switch (mods.get(1)) {
                    case "min" -> Op.ATOM_MIN;
                    case "add" -> Op.ATOM_ADD;
                    default -> throw new IllegalArgumentException("atom." + mods.get(1) + " is not emulated");
                };
                in.space = Space.GLOBAL;
                in.dest = register(f, ops.get(0));
                memory(f, in, ops.get(1));
                in.in = new Operand[] {operand(f, ops.get(2), in.type)};
                return in;
            }
            case "setp" -> {
                in.op = Op.SETP;
                in.cmp = mods.getFirst();
                in.dest = register(f, ops.get(0));
                in.in = new Operand[] {operand(f, ops.get(1), in.type), operand(f, ops.get(2), in.type)};
                return in;
            }
            case "cvt" -> {
                in.op = Op.CVT;
                in.from = Type.of(mods.get(mods.size() - 1));
                in.type = Type.of(mods.get(mods.size() - 2));
                in.dest = register(f, ops.get(0));
                in.in = new Operand[] {operand(f, ops.get(1), in.from)};
                return in;
            }
            case "selp" -> {
                in.op = Op.SELP;
                in.dest = register(f, ops.get(0));
                in.in = new Operand[] {operand(f, ops.get(1), in.type), operand(f, ops.get(2), in.type), operand(f, ops.get(3), Type.PRED)};
                return in;
            }
            default -> {
            }
        }
        in.op = switch (parts[0]) {
            case "mov" -> Op.MOV;
            case "cvta" -> Op.CVTA;
            case "add" -> Op.ADD;
            case "sub" -> Op.SUB;
            case "mul" -> in.type.floating ? Op.MUL_F : switch (mods.getFirst()) {
                case "lo" -> Op.MUL_LO;
                case "wide" -> Op.MUL_WIDE;
                case "hi" -> Op.MUL_HI;
                default -> throw new IllegalArgumentException("mul needs .lo, .hi or .wide");
            };
            case "mad" -> {
                if (!mods.getFirst().equals("lo")) throw new IllegalArgumentException("only mad.lo is emulated");
                yield Op.MAD_LO;
            }
            case "fma" -> Op.FMA;
            case "div" -> Op.DIV;
            case "rem" -> Op.REM;
            case "min" -> Op.MIN;
            case "max" -> Op.MAX;
            case "abs" -> Op.ABS;
            case "neg" -> Op.NEG;
            case "and" -> Op.AND;
            case "or" -> Op.OR;
            case "xor" -> Op.XOR;
            case "not" -> Op.NOT;
            case "shl" -> Op.SHL;
            case "shr" -> Op.SHR;
            case "ex2" -> Op.EX2;
            case "lg2" -> Op.LG2;
            case "rcp" -> Op.RCP;
            case "sqrt" -> Op.SQRT;
            case "copysign" -> Op.COPYSIGN;
            default -> throw new IllegalArgumentException("the instruction " + parts[0] + " is not emulated");
        };
        if (in.type.floating && (in.op == Op.ADD || in.op == Op.SUB || in.op == Op.MUL_F || in.op == Op.FMA || in.op == Op.DIV
                || in.op == Op.RCP || in.op == Op.SQRT) && !mods.contains("rn")) {
            throw new IllegalArgumentException("only .rn float arithmetic is emulated (contraction and other roundings are not)");
        }
        in.dest = register(f, ops.getFirst());
        in.in = new Operand[ops.size() - 1];
        for (int i = 1; i < ops.size(); i++) {
            Type t = (in.op == Op.SHL || in.op == Op.SHR) && i == 2 ? Type.U32 : in.type; // the shift amount is .u32
            in.in[i - 1] = operand(f, ops.get(i), t);
        }
        return in;
    }

    /** Operands split at top-level commas (not inside brackets). */
    private static List<String> operands(String rest) {
        List<String> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < rest.length(); i++) {
            char c = rest.charAt(i);
            if (c == '[') depth++;
            if (c == ']') depth--;
            if (c == ',' && depth == 0) {
                out.add(rest.substring(start, i).trim());
                start = i + 1;
            }
        }
        if (!rest.isBlank()) out.add(rest.substring(start).trim());
        return out;
    }

    private static int register(Function f, String name) {
        Integer r = f.registers.get(name);
        if (r == null) throw new IllegalArgumentException("no register " + name);
        return r;
    }

    private static Operand operand(Function f, String s, Type type) {
        Integer r = f.registers.get(s);
        if (r != null) return new Operand(REG, r, 0);
        switch (s) {
            case "%tid.x" -> {
                return new Operand(TID, 0, 0);
            }
            case "%ntid.x" -> {
                return new Operand(NTID, 0, 0);
            }
            case "%ctaid.x" -> {
                return new Operand(CTAID, 0, 0);
            }
            case "%nctaid.x" -> {
                return new Operand(NCTAID, 0, 0);
            }
            default -> {
            }
        }
        Integer shared = f.shared.get(s);
        if (shared != null) return new Operand(IMM, 0, shared);
        return new Operand(IMM, 0, immediate(s, type));
    }

    private static long immediate(String s, Type type) {
        if (s.matches("0[fF][0-9a-fA-F]{8}")) {
            if (type != Type.F32) throw new IllegalArgumentException("a float immediate " + s + " for a ." + type.name().toLowerCase() + " operand");
            return Long.parseLong(s.substring(2), 16);
        }
        if (s.matches("0[dD][0-9a-fA-F]{16}")) {
            if (type != Type.F64) throw new IllegalArgumentException("a double immediate " + s + " for a ." + type.name().toLowerCase() + " operand");
            return Long.parseUnsignedLong(s.substring(2), 16);
        }
        if (type.floating) throw new IllegalArgumentException("an integer immediate " + s + " for a float operand");
        long v = s.matches("-?0[xX][0-9a-fA-F]+U?") ? Long.parseUnsignedLong(s.replaceAll("^-|0[xX]|U$", ""), 16) * (s.startsWith("-") ? -1 : 1)
                : Long.parseLong(s.replaceAll("U$", ""));
        return type.fit(v);
    }

    private static void memory(Function f, Insn in, String address) {
        Matcher m = Pattern.compile("\\[\\s*([\\w$%.]+)\\s*(?:([+-])\\s*(\\d+))?\\s*]").matcher(address);
        if (!m.matches()) throw new IllegalArgumentException("cannot read the address " + address);
        in.offset = m.group(2) == null ? 0 : Long.parseLong(m.group(3)) * (m.group(2).equals("-") ? -1 : 1);
        String base = m.group(1);
        if (in.space == Space.PARAM) {
            Param p = f.paramsByName.get(base);
            if (p == null) throw new IllegalArgumentException("no kernel parameter " + base);
            in.base = new Operand(IMM, 0, p.offset());
            return;
        }
        if (f.registers.containsKey(base) || f.shared.containsKey(base)) {
            in.base = operand(f, base, Type.U64);
        } else {
            in.base = new Operand(IMM, 0, Long.parseLong(base));
        }
    }

    // ---------------------------------------------------------------- launching

    /** Whether this module defines an entry of this name. */
    boolean hasKernel(String name) {
        Function f = functions.get(name);
        return f != null && f.entry;
    }

    /**
     * Runs {@code kernel} on a 1-D grid of {@code blocks} × {@code threads}, block after block,
     * with these arguments (see {@link GpuDriver#launch}: DevicePointer, Long, Integer, Float, or
     * null for a null pointer), checked against the kernel's parameters.
     */
    void launch(String kernel, int blocks, int threads, int dynamicShared, Memory global, Object... args) {
        Function f = functions.get(kernel);
        if (f == null || !f.entry) throw new IllegalArgumentException("no kernel " + kernel + " in this module");
        if (blocks < 1 || threads < 1 || threads > 1024) {
            throw new IllegalArgumentException(kernel + ": a grid of " + blocks + " blocks of " + threads + " threads is not launchable");
        }
        if (args.length != f.params.size()) {
            throw new IllegalArgumentException(kernel + " takes " + f.params.size() + " parameters " + f.params.stream().map(Param::name).toList() + ", got "
                    + args.length + " arguments");
        }
        ByteBuffer params = ByteBuffer.allocate(Math.max(8, f.paramBytes)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < args.length; i++) {
            Param p = f.params.get(i);
            Object a = args[i];
            boolean wide = a == null || a instanceof DevicePointer || a instanceof Long;
            boolean fits = p.type() == Type.F64 ? a instanceof Double : p.type().bytes == 8 ? wide && !p.type().floating
                    : p.type() == Type.F32 ? a instanceof Float : !wide && a instanceof Integer;
            if (!fits) {
                throw new IllegalArgumentException(kernel + ": parameter " + i + " (" + p.name() + ") is ." + p.type().name().toLowerCase() + ", got "
                        + (a == null ? "null" : a.getClass().getSimpleName() + " " + a));
            }
            switch (a) {
                case null -> params.putLong(p.offset(), 0);
                case DevicePointer d -> params.putLong(p.offset(), d.address());
                case Long v -> params.putLong(p.offset(), v);
                case Integer v -> params.putInt(p.offset(), v);
                case Float v -> params.putFloat(p.offset(), v);
                case Double v -> params.putDouble(p.offset(), v);
                default -> throw new IllegalStateException();
            }
        }
        long launch = LAUNCHES.incrementAndGet() & 0xFFFFFF;
        // Blocks are independent (a GPU runs them in any order, at once): they run on the common pool.
        java.util.stream.IntStream.range(0, blocks).parallel()
                .forEach(block -> {
                    Block b = new Block(f, block, blocks, threads, f.sharedBytes + dynamicShared, params, global, launch);
                    b.run();
                    counts.merge(kernel, new Counts(b.instructions, b.divisions, b.loads, b.stores), Counts::plus);
                });
    }

    /** One thread's registers in one function. */
    private static final class Frame {
        final Function f;
        final long[] r;
        final boolean[] written;
        int pc;

        Frame(Function f) {
            this.f = f;
            this.r = new long[f.registerTypes.size()];
            this.written = new boolean[r.length];
        }
    }

    private static final int AT_BARRIER = 0, EXITED = 1;

    private static final class Block {
        final Function kernel;
        final int block, blocks, threads;
        final ByteBuffer shared, params;
        final Memory global;
        /** This launch's number (24 bits), stamped on the words it stores to. */
        final long launch;
        int epoch;
        /** The allocations this block touched last (a block's threads read a few tensors over and over). */
        final Region[] recent = new Region[4];
        int tid, nextRecent;
        /** What this block's threads executed (see {@link Counts}). */
        long instructions, divisions, loads, stores;
        /**
         * For each 4-byte word of shared memory: the thread that last wrote it and the barrier count
         * then, and the thread that last read it ({@link #MANY} for several) and the count then.
         */
        final int[] sharedWriter, sharedWritten, sharedReader, sharedRead;
        static final int MANY = -2;

        Block(Function kernel, int block, int blocks, int threads, int sharedBytes, ByteBuffer params, Memory global, long launch) {
            this.launch = launch;
            this.kernel = kernel;
            this.block = block;
            this.blocks = blocks;
            this.threads = threads;
            this.shared = ByteBuffer.allocate(Math.max(8, sharedBytes)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < sharedBytes; i++) shared.put(i, (byte) 0xFF); // uninitialised shared memory reads as NaN
            int words = (sharedBytes + 3) / 4;
            sharedWriter = new int[words];
            sharedReader = new int[words];
            sharedWritten = new int[words];
            sharedRead = new int[words];
            Arrays.fill(sharedWritten, -1);
            Arrays.fill(sharedRead, -1);
            this.params = params;
            this.global = global;
        }

        void run() {
            Frame[] frames = new Frame[threads];
            boolean[] exited = new boolean[threads];
            for (int t = 0; t < threads; t++) frames[t] = new Frame(kernel);
            while (true) {
                int waiting = 0, barrier = -1, first = -1;
                for (int t = 0; t < threads; t++) {
                    if (exited[t]) continue;
                    tid = t;
                    if (execute(frames[t], true) == EXITED) {
                        exited[t] = true;
                    } else if (waiting++ == 0) {
                        barrier = frames[t].pc - 1;
                        first = t;
                    } else if (frames[t].pc - 1 != barrier) {
                        // bar.sync is barrier.sync.aligned: every thread of the block must execute the same one
                        Insn in = kernel.code[frames[t].pc - 1];
                        throw fault(frames[t], in, "waits at a different barrier (instruction " + (frames[t].pc - 1)
                                + ") than thread " + first + " (instruction " + barrier
                                + "): bar.sync is aligned, so a GPU may hang or run on here");
                    }
                }
                if (waiting == 0) return;
                epoch++; // every live thread has reached the barrier
            }
        }

        Fault fault(Frame fr, Insn in, String what) {
            return new Fault(kernel.name + " (block " + block + " of " + blocks + ", thread " + tid + " of " + threads + ")"
                    + (fr.f == kernel ? "" : " in " + fr.f.name) + ", '" + in.text + "': " + what);
        }

        long value(Frame fr, Insn in, Operand o) {
            return switch (o.kind) {
                case REG -> {
                    if (!fr.written[o.reg]) throw fault(fr, in, "reads a register that was never written");
                    yield fr.r[o.reg];
                }
                case IMM -> o.imm;
                case TID -> tid;
                case NTID -> threads;
                case CTAID -> block;
                case NCTAID -> blocks;
                default -> throw new IllegalStateException();
            };
        }

        void set(Frame fr, int reg, long bits) {
            fr.r[reg] = bits & fr.f.masks[reg];
            fr.written[reg] = true;
        }

        static void set(Frame fr, Insn in, long bits) {
            fr.r[in.dest] = bits & in.destMask;
            fr.written[in.dest] = true;
        }

        long address(Frame fr, Insn in) {
            return value(fr, in, in.base) + in.offset;
        }

        long load(Frame fr, Insn in, long address, int bytes) {
            if (address % bytes != 0) throw fault(fr, in, "misaligned " + bytes + "-byte load at 0x" + Long.toHexString(address));
            switch (in.space) {
                case PARAM -> {
                    return read(params, (int) address, bytes, fr, in, "parameter");
                }
                case SHARED -> {
                    return read(shared, (int) address, bytes, fr, in, "shared");
                }
                default -> {
                    Region r = region(fr, in, address, bytes);
                    return read(r.data(), (int) (address - r.start()), bytes, fr, in, "global");
                }
            }
        }

        Region region(Frame fr, Insn in, long address, int bytes) {
            for (Region r : recent) {
                if (r != null && r.holds(address, bytes)) return r;
            }
            try {
                Region r = global.region(address, bytes);
                recent[nextRecent++ & 3] = r;
                return r;
            } catch (RuntimeException e) {
                throw fault(fr, in, e.getMessage());
            }
        }

        long read(ByteBuffer b, int address, int bytes, Frame fr, Insn in, String space) {
            if (address < 0 || address + bytes > b.capacity()) {
                throw fault(fr, in, bytes + "-byte " + space + " load at " + address + " is outside the " + b.capacity() + " bytes there are");
            }
            return switch (bytes) {
                case 1 -> b.get(address) & 0xFF;
                case 2 -> b.getShort(address) & 0xFFFF;
                case 4 -> b.getInt(address) & 0xFFFFFFFFL;
                default -> b.getLong(address);
            };
        }

        void store(Frame fr, Insn in, long address, int bytes, long bits) {
            if (address % bytes != 0) throw fault(fr, in, "misaligned " + bytes + "-byte store at 0x" + Long.toHexString(address));
            switch (in.space) {
                case SHARED -> write(shared, (int) address, bytes, bits, fr, in, "shared");
                case GLOBAL -> {
                    Region r = region(fr, in, address, bytes);
                    write(r.data(), (int) (address - r.start()), bytes, bits, fr, in, "global");
                }
                default -> throw fault(fr, in, "stores to parameter space");
            }
        }

        void write(ByteBuffer b, int address, int bytes, long bits, Frame fr, Insn in, String space) {
            if (address < 0 || address + bytes > b.capacity()) {
                throw fault(fr, in, bytes + "-byte " + space + " store at " + address + " is outside the " + b.capacity() + " bytes there are");
            }
            switch (bytes) {
                case 1 -> b.put(address, (byte) bits);
                case 2 -> b.putShort(address, (short) bits);
                case 4 -> b.putInt(address, (int) bits);
                default -> b.putLong(address, bits);
            }
        }

        /** Runs a frame until it returns (or, at the kernel's level, reaches a barrier). */
        int execute(Frame fr, boolean top) {
            Insn[] code = fr.f.code;
            while (true) {
                Insn in = code[fr.pc++];
                if (in.guard >= 0) {
                    if (!fr.written[in.guard]) throw fault(fr, in, "is guarded by a predicate that was never set");
                    if ((fr.r[in.guard] != 0) == in.guardNegated) continue;
                }
                Type t = in.type;
                instructions++;
                switch (in.op) {
                    case BRA -> fr.pc = in.target;
                    case RET -> {
                        return EXITED;
                    }
                    case BAR -> {
                        if (!top) throw fault(fr, in, "a barrier inside a function is not emulated");
                        return AT_BARRIER;
                    }
                    case CALL -> call(fr, in);
                    case MOV, CVTA -> set(fr, in, value(fr, in, in.in[0]));
                    case LD -> {
                        long address = address(fr, in);
                        if (in.space == Space.GLOBAL) {
                            race(fr, in, address, t.bytes, false);
                            loads++;
                        }
                        set(fr, in, load(fr, in, address, t.bytes));
                        if (in.space == Space.SHARED) sharedRace(fr, in, address, t.bytes, false);
                    }
                    case ST -> {
                        long address = address(fr, in);
                        if (in.space == Space.GLOBAL) {
                            race(fr, in, address, t.bytes, true);
                            stores++;
                        }
                        store(fr, in, address, t.bytes, value(fr, in, in.in[0]));
                        if (in.space == Space.SHARED) sharedRace(fr, in, address, t.bytes, true);
                    }
                    case ATOM_MIN, ATOM_ADD -> atomic(fr, in);
                    case SETP -> set(fr, in, compare(in, value(fr, in, in.in[0]), value(fr, in, in.in[1])) ? 1 : 0);
                    case SELP -> set(fr, in, value(fr, in, in.in[2]) != 0 ? value(fr, in, in.in[0]) : value(fr, in, in.in[1]));
                    case CVT -> set(fr, in, convert(fr, in, value(fr, in, in.in[0])));
                    default -> {
                        if ((in.op == Op.DIV || in.op == Op.REM) && !t.floating) divisions++;
                        set(fr, in, arithmetic(fr, in));
                    }
                }
            }
        }

        /**
         * A data race: this thread reads or writes a global address that another thread of the
         * launch wrote, or writes one that another thread of the launch read, unordered (not the
         * same block with a barrier in between). A GPU runs the two in any order, or at once; here
         * they would have run one after the other, hiding it.
         *
         * <p>A word's reader is kept as the launch (24 bits), the block (16 bits; all ones for
         * several blocks), the thread that read it at the block's latest barrier count (11 bits;
         * all ones for several) and that count (13 bits). Reads in blocks or at barrier counts too
         * large for those bits are not kept: a race may then go unseen, but none is reported that
         * did not happen.
         */
        void race(Frame fr, Insn in, long address, int bytes, boolean write) {
            Region r = region(fr, in, address, bytes);
            long me = (long) block * threads + tid;
            for (int word = (int) ((address - r.start()) >>> 2), end = (int) ((address - r.start() + bytes + 3) >>> 2); word < end; word++) {
                if (write) {
                    readBefore(fr, in, r, word);
                } else {
                    read(r, word);
                }
                long previous = r.writers()[word];
                if (write) r.writers()[word] = launch << 40 | me << 14 | Math.min(epoch, (1 << 14) - 1);
                if (previous >>> 40 != launch) continue; // not written in this launch
                long other = previous >>> 14 & ((1L << 26) - 1);
                boolean ordered = other == me || other / threads == block && (previous & ((1 << 14) - 1)) < epoch;
                if (!ordered) {
                    throw fault(fr, in, (write ? "writes" : "reads") + " 0x" + Long.toHexString(r.start() + 4L * word) + ", which thread "
                            + other % threads + " of block " + other / threads + " wrote in the same launch without a barrier between: a data race");
                }
            }
        }

        private static final long SEVERAL_BLOCKS = 0xFFFF, SEVERAL_THREADS = 0x7FF, MAX_EPOCH = 0x1FFF;

        /** Notes that this thread read the word. */
        void read(Region r, int word) {
            if (block >= SEVERAL_BLOCKS || epoch > MAX_EPOCH) return;
            long[] readers = r.readers();
            long previous = readers[word], b = previous >>> 24 & 0xFFFF, t = previous >>> 13 & 0x7FF, e = previous & 0x1FFF;
            if (previous >>> 40 != launch) {
                b = block;
                t = tid;
                e = epoch;
            } else if (b != block) {
                b = SEVERAL_BLOCKS;
            } else if (epoch > e) {
                t = tid;
                e = epoch;
            } else if (t != tid) {
                t = SEVERAL_THREADS;
            }
            readers[word] = launch << 40 | b << 24 | t << 13 | e;
        }

        /** Faults if another thread of the launch read the word, unordered with this thread's store to it. */
        void readBefore(Frame fr, Insn in, Region r, int word) {
            long previous = r.readers()[word];
            if (previous >>> 40 != launch) return; // not read in this launch
            long b = previous >>> 24 & 0xFFFF, t = previous >>> 13 & 0x7FF, e = previous & 0x1FFF;
            String who;
            if (b == SEVERAL_BLOCKS) {
                who = "threads of several blocks";
            } else if (b != block) {
                who = (t == SEVERAL_THREADS ? "threads" : "thread " + t) + " of block " + b;
            } else if (e == epoch && t != tid) {
                who = t == SEVERAL_THREADS ? "other threads of this block" : "thread " + t + " of this block";
            } else {
                return;
            }
            throw fault(fr, in, "writes 0x" + Long.toHexString(r.start() + 4L * word) + ", which " + who
                    + " read in the same launch without a barrier between: a data race");
        }

        /**
         * A data race in shared memory: this thread reads a word that another thread of the block
         * wrote since the last barrier, or writes one that another wrote or read since then. Here
         * the block's threads run one after another between barriers, in the order of their
         * indices, which would hide it; a GPU runs its warps in any order.
         */
        void sharedRace(Frame fr, Insn in, long address, int bytes, boolean write) {
            for (int w = (int) (address >>> 2), end = (int) ((address + bytes + 3) >>> 2); w < end; w++) {
                int other;
                String did;
                if (sharedWritten[w] == epoch && sharedWriter[w] != tid) {
                    other = sharedWriter[w];
                    did = "wrote";
                } else if (write && sharedRead[w] == epoch && sharedReader[w] != tid) {
                    other = sharedReader[w];
                    did = "read";
                } else {
                    if (write) {
                        sharedWriter[w] = tid;
                        sharedWritten[w] = epoch;
                    } else if (sharedRead[w] == epoch && sharedReader[w] != tid) {
                        sharedReader[w] = MANY;
                    } else {
                        sharedReader[w] = tid;
                        sharedRead[w] = epoch;
                    }
                    continue;
                }
                throw fault(fr, in, (write ? "writes" : "reads") + " shared byte " + 4 * w + ", which "
                        + (other == MANY ? "other threads" : "thread " + other) + " " + did
                        + " since the last barrier: a data race");
            }
        }

        /** Atomic against every other block's threads, which run on other cores. */
        void atomic(Frame fr, Insn in) {
            Type t = in.type;
            synchronized (global) {
                long address = address(fr, in), old = load(fr, in, address, t.bytes), b = value(fr, in, in.in[0]);
                long updated = in.op == Op.ATOM_ADD ? t.floating ? floatBits(asFloat(old) + asFloat(b)) : old + b
                        : t.signed ? Math.min(t.integer(old), t.integer(b)) : Long.compareUnsigned(old, b) <= 0 ? old : b;
                store(fr, in, address, t.bytes, t.fit(updated));
                set(fr, in, old);
            }
        }

        void call(Frame fr, Insn in) {
            if (in.callee == null) {
                throw fault(fr, in, "calls an unknown function");
            }
            Function g = in.callee;
            Frame callee = new Frame(g);
            for (int i = 0; i < in.arguments.length; i++) {
                if (!fr.written[in.arguments[i]]) throw fault(fr, in, "passes a register that was never written");
                set(callee, g.paramRegisters[i], fr.r[in.arguments[i]]);
            }
            execute(callee, false);
            for (int i = 0; i < in.results.length; i++) {
                if (!callee.written[g.returnRegisters[i]]) throw fault(fr, in, g.name + " returned without setting its result");
                set(fr, in.results[i], callee.r[g.returnRegisters[i]]);
            }
        }

        boolean compare(Insn in, long a, long b) {
            Type t = in.type;
            if (t.floating) {
                double x = t == Type.F32 ? asFloat(a) : Double.longBitsToDouble(a), y = t == Type.F32 ? asFloat(b) : Double.longBitsToDouble(b);
                boolean unordered = Double.isNaN(x) || Double.isNaN(y);
                return switch (in.cmp) {
                    case "eq" -> !unordered && x == y;
                    case "ne" -> !unordered && x != y;
                    case "lt" -> !unordered && x < y;
                    case "le" -> !unordered && x <= y;
                    case "gt" -> !unordered && x > y;
                    case "ge" -> !unordered && x >= y;
                    case "num" -> !unordered;
                    case "nan" -> unordered;
                    case "equ" -> unordered || x == y;
                    case "neu" -> unordered || x != y;
                    case "ltu" -> unordered || x < y;
                    case "leu" -> unordered || x <= y;
                    case "gtu" -> unordered || x > y;
                    case "geu" -> unordered || x >= y;
                    default -> throw new IllegalArgumentException("no comparison " + in.cmp);
                };
            }
            int c = t.signed ? Long.compare(t.integer(a), t.integer(b)) : Long.compareUnsigned(t.integer(a), t.integer(b));
            return switch (in.cmp) {
                case "eq" -> c == 0;
                case "ne" -> c != 0;
                case "lt", "lo" -> c < 0;
                case "le", "ls" -> c <= 0;
                case "gt", "hi" -> c > 0;
                case "ge", "hs" -> c >= 0;
                default -> throw new IllegalArgumentException("no comparison " + in.cmp);
            };
        }

        long convert(Frame fr, Insn in, long bits) {
            Type to = in.type, from = in.from;
            if (from.floating) {
                double v = from == Type.F32 ? asFloat(bits) : Double.longBitsToDouble(bits);
                if (to == Type.F32) return floatBits((float) v);
                if (to == Type.F64) return Double.doubleToRawLongBits(v);
                throw fault(fr, in, "float to integer conversions are not emulated");
            }
            long v = from.integer(bits);
            if (to == Type.F32) return floatBits(from.signed || v >= 0 ? (float) v : unsignedToFloat(v));
            if (to == Type.F64) return Double.doubleToRawLongBits(from.signed || v >= 0 ? (double) v : unsignedToDouble(v));
            return to.fit(v); // integer widening (sign- or zero-extended by the source type) or truncation
        }

        long arithmetic(Frame fr, Insn in) {
            Type t = in.type;
            Operand[] o = in.in;
            long a = value(fr, in, o[0]), b = o.length > 1 ? value(fr, in, o[1]) : 0, c = o.length > 2 ? value(fr, in, o[2]) : 0;
            if (t == Type.F32) {
                float x = asFloat(a), y = asFloat(b), z = asFloat(c);
                return switch (in.op) {
                    case ADD -> floatBits(x + y);
                    case SUB -> floatBits(x - y);
                    case MUL_F -> floatBits(x * y);
                    case FMA -> floatBits(Math.fma(x, y, z));
                    case DIV -> floatBits(x / y);
                    case RCP -> floatBits(1f / x);
                    case SQRT -> floatBits((float) Math.sqrt(x));
                    case MIN -> floatBits(Float.isNaN(x) ? y : Float.isNaN(y) ? x : Math.min(x, y));
                    case MAX -> floatBits(Float.isNaN(x) ? y : Float.isNaN(y) ? x : Math.max(x, y));
                    case ABS -> a & 0x7FFFFFFFL;
                    case NEG -> (a ^ 0x80000000L) & 0xFFFFFFFFL;
                    case COPYSIGN -> (b & 0x7FFFFFFFL) | (a & 0x80000000L); // copysign d, a, b: b with the sign of a
                    case EX2 -> floatBits(flushed((float) Math.pow(2, flushed(x))));
                    case LG2 -> floatBits(flushed((float) (Math.log(flushed(x)) / Math.log(2))));
                    default -> throw fault(fr, in, "is not emulated for .f32");
                };
            }
            if (t == Type.F64) {
                double x = Double.longBitsToDouble(a), y = Double.longBitsToDouble(b), z = Double.longBitsToDouble(c);
                double r = switch (in.op) {
                    case ADD -> x + y;
                    case SUB -> x - y;
                    case MUL_F -> x * y;
                    case FMA -> Math.fma(x, y, z);
                    case DIV -> x / y;
                    case RCP -> 1 / x;
                    case SQRT -> Math.sqrt(x);
                    case MIN -> Double.isNaN(x) ? y : Double.isNaN(y) ? x : Math.min(x, y);
                    case MAX -> Double.isNaN(x) ? y : Double.isNaN(y) ? x : Math.max(x, y);
                    case ABS -> Math.abs(x);
                    case NEG -> -x;
                    default -> throw fault(fr, in, "is not emulated for .f64");
                };
                return Double.doubleToRawLongBits(r);
            }
            long x = t.integer(a), y = t.integer(b), z = t.integer(c);
            return switch (in.op) {
                case ADD -> x + y;
                case SUB -> x - y;
                case MUL_LO -> x * y;
                case MUL_WIDE -> {
                    if (t.bytes != 4) throw fault(fr, in, "mul.wide is emulated for 32-bit operands only");
                    yield x * y; // sign- or zero-extended 32-bit values: the 64-bit product is exact
                }
                case MUL_HI -> t.bytes == 4 ? (x * y) >> 32 : t.signed ? Math.multiplyHigh(x, y) : Math.unsignedMultiplyHigh(x, y);
                case MAD_LO -> x * y + z;
                case DIV, REM -> {
                    if (y == 0) throw fault(fr, in, "divides by zero");
                    if (in.op == Op.DIV) yield t.signed ? x / y : Long.divideUnsigned(x, y);
                    yield t.signed ? x % y : Long.remainderUnsigned(x, y);
                }
                case MIN -> t.signed ? Math.min(x, y) : Long.compareUnsigned(x, y) <= 0 ? x : y;
                case MAX -> t.signed ? Math.max(x, y) : Long.compareUnsigned(x, y) >= 0 ? x : y;
                case ABS -> Math.abs(x);
                case NEG -> -x;
                case AND -> a & b;
                case OR -> a | b;
                case XOR -> a ^ b;
                case NOT -> ~a;
                case SHL -> y >= 8L * t.bytes ? 0 : a << y;
                case SHR -> {
                    long shift = Math.min(b & 0xFFFFFFFFL, 8L * t.bytes - (t.signed ? 1 : 0));
                    if (!t.signed && shift >= 8L * t.bytes) yield 0;
                    yield t.signed ? x >> shift : a >>> shift;
                }
                default -> throw fault(fr, in, "is not emulated for integers");
            };
        }
    }

    /** Resolves the call targets (after every function of the module is known). */
    private void link() {
        for (Function f : functions.values()) {
            for (Insn in : f.code) {
                if (in.op != Op.CALL) continue;
                Function g = functions.get(in.label);
                if (g == null || g.entry) throw new IllegalArgumentException(f.name + ": '" + in.text + "' calls no function of this module");
                if (g.paramRegisters.length != in.arguments.length || g.returnRegisters.length != in.results.length) {
                    throw new IllegalArgumentException(f.name + ": '" + in.text + "' does not match " + g.name + "'s " + g.paramRegisters.length
                            + " parameters and " + g.returnRegisters.length + " results");
                }
                in.callee = g;
            }
        }
    }

    static float asFloat(long bits) {
        return Float.intBitsToFloat((int) bits);
    }

    static long floatBits(float f) {
        return Float.floatToRawIntBits(f) & 0xFFFFFFFFL;
    }

    /** .ftz: subnormal inputs and results become zero of the same sign. */
    private static float flushed(float x) {
        return Math.abs(x) < Float.MIN_NORMAL ? Math.copySign(0f, x) : x;
    }

    private static float unsignedToFloat(long v) {
        return (float) (((v >>> 1) | (v & 1)) * 2.0);
    }

    private static double unsignedToDouble(long v) {
        return ((v >>> 1) | (v & 1)) * 2.0;
    }
}
