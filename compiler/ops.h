/* The operator table: one row per op of SPEC §2, the one place that says what an op is.
 * geqc.h turns it into the Op enum and ops.c into op_info[]; the passes ask the columns
 * (op_info[op].nin, op_has(op, P_CONV), ...) rather than testing OP_* values.
 *
 *   X(ID, spelling, layer, nin, input kinds, output kind, properties, schema, C, torch)
 *
 * spelling   how the source writes it: a call `relu(h)`, or an infix operator (P_INFIX)
 * layer      the base of its layers' names: relu1, relu2 ... (SPEC §2.3)
 * nin        operand count; the first is the call's first argument (`x:map` below);
 *            for a P_VARIADIC op the least count (its call's leading positional arguments
 *            are all operands, up to GEQC_MAX_OPERANDS, and Layer.nin is their count)
 * input kinds  Kind bits its first operand may have (check.c reports the others)
 * output kind  K_IMAGE, K_GMAP, K_VECTOR, or OUT_SAME: the first operand's kind
 * properties   P_* bits, below
 * schema     the arguments in positional order: `name:type` is required,
 *            `name:type=default` optional. Types: `map` (an operand), `int`, `float`,
 *            `bool`, `enum(a|b)`. A default may name an earlier argument (`s:int=k`: the
 *            stride defaults to the kernel size, as torch.nn.MaxPool2d).
 * C          the runtime call of one image in the emitted C ("" for none: the same floats)
 * torch      the expression in the PyTorch module's forward
 * The C and torch columns are templates: $x and $y are the operands, $out the result
 * (C), $name the layer (torch), $weight $bias its parameters and $conv its plan (C);
 * emit_c.c's c_var and emit_torch.c's torch_var list the other $words.
 *
 * Adding an op: one row here; then the build (-Werror=switch) stops at each switch over
 * Op that needs a case for it, and only those:
 *   shape.c       shape_infer()      its shape rule (SPEC §2)
 *   shape.c       shape_tensors()    its parameter tensors, if any (P_PARAMS)
 *   lint.c        self_breaks()      whether it commutes with the group (SPEC §1 (a))
 *   emit_torch.c  emit_init_layer()  its nn.Module, if it has parameters
 * A sliding window (P_SLIDING) is linted (grid exactness, the size search) from its
 * k s p d alone. An op whose C template is not the whole story (a conv's packed plan, a
 * bn's folding, a linear's weights) also needs its lines in plan.c's plan_params and
 * emit_c.c's emit_load_layer, and its nn.Module class in emit_torch.c's emit_classes.
 * SPEC §2 and README's op table document it for users; tests/errors and tests/torch test
 * it. */

/* Properties: what the passes ask of an op. */
#define P_INFIX     (1u << 0)  /* written `a + b`, not called */
#define P_SLIDING   (1u << 1)  /* a window with k s p d over H and W (lint: grid exactness) */
#define P_CONV      (1u << 2)  /* filters expanded over the group, run as a gq_conv plan */
#define P_POOL      (1u << 3)  /* a window pool: p <= k/2, as PyTorch requires */
#define P_PARAMS    (1u << 4)  /* has tensors in the weights file (an nn.Module in torch) */
#define P_INPLACE   (1u << 5)  /* the C works in place on a copy of the operand */
#define P_OVERWRITE (1u << 6)  /* may write its result over an operand that dies there */
#define P_PLANEWISE (1u << 7)  /* the same on every plane of the group axis */
#define P_KEEPS_ACT (1u << 8)  /* commutes with any permutation of a vector's entries */
#define P_FOLDS     (1u << 9)  /* an affine map per channel that folds into the conv before it */
#define P_FUSES     (1u << 10) /* runs in the epilogue of the conv whose output it overwrites */
#define P_VARIADIC  (1u << 11) /* takes nin or more operands, positionally (concat) */
#define P_ROWS      (1u << 12) /* runs on the rows of the conv it alone reads, as written */
#define OUT_SAME    0

#define SLIDE_     (P_SLIDING | P_PLANEWISE)
#define POINTWISE_ (P_INPLACE | P_OVERWRITE | P_PLANEWISE | P_KEEPS_ACT)

X(LIFT, "lift", "lift", 1, K_IMAGE, K_GMAP, P_SLIDING | P_CONV | P_PARAMS,
        "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true",
        "gq_conv_run($conv, $out, $x, im->scratch)", "self.$name($x)")
X(GCONV, "gconv", "gconv", 1, K_GMAP, K_GMAP, P_SLIDING | P_CONV | P_PARAMS,
        "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true",
        "gq_conv_run($conv, $out, $x, im->scratch)", "self.$name($x)")
X(CONV, "conv", "conv", 1, K_IMAGE, K_IMAGE, P_SLIDING | P_CONV | P_PARAMS,
        "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true",
        "gq_conv_run($conv, $out, $x, im->scratch)", "self.$name($x)")
X(MAXPOOL, "maxpool", "maxpool", 1, K_IMAGE | K_GMAP, OUT_SAME, SLIDE_ | P_POOL | P_ROWS,
        "x:map k:int s:int=k p:int=0", "gq_maxpool2d($out, $x, $planes, $h, $w, $k, $s, $p)",
        "pool($x, k=$k, s=$s, p=$p, avg=False)")
X(AVGPOOL, "avgpool", "avgpool", 1, K_IMAGE | K_GMAP, OUT_SAME, SLIDE_ | P_POOL,
        "x:map k:int s:int=k p:int=0", "gq_avgpool2d($out, $x, $planes, $h, $w, $k, $s, $p)",
        "pool($x, k=$k, s=$s, p=$p, avg=True)")
X(BN, "bn", "bn", 1, K_IMAGE | K_GMAP, OUT_SAME,
        P_PARAMS | P_INPLACE | P_OVERWRITE | P_PLANEWISE | P_FOLDS, "x:map eps:float=1e-5",
        "gq_affine($out, $c, $g, $hw, $weight, $bias)", "self.$name($x)")
X(RELU, "relu", "relu", 1, K_IMAGE | K_GMAP | K_VECTOR, OUT_SAME, POINTWISE_ | P_FUSES, "x:map",
        "gq_relu($out, $numel)", "F.relu($x)")
X(SIGMOID, "sigmoid", "sigmoid", 1, K_IMAGE | K_GMAP | K_VECTOR, OUT_SAME, POINTWISE_, "x:map",
        "gq_sigmoid($out, $numel)", "torch.sigmoid($x)")
X(TANH, "tanh", "tanh", 1, K_IMAGE | K_GMAP | K_VECTOR, OUT_SAME, POINTWISE_, "x:map",
        "gq_tanh($out, $numel)", "torch.tanh($x)")
X(GPOOL, "gpool", "gpool", 1, K_GMAP, K_IMAGE, 0, "x:map mode:enum(max|mean)",
        "gq_gpool($out, $x, $c, $g, $hw, $mean)", "$x.$reduce(2)")
X(GLOBAL_AVGPOOL, "global_avgpool", "global_avgpool", 1, K_IMAGE | K_GMAP, K_VECTOR, 0, "x:map",
        "gq_global_pool($out, $x, $planes, $hw, true)", "$x.mean($axes)$flat")
X(GLOBAL_MAXPOOL, "global_maxpool", "global_maxpool", 1, K_IMAGE | K_GMAP, K_VECTOR, 0, "x:map",
        "gq_global_pool($out, $x, $planes, $hw, false)", "$x.amax($axes)$flat")
X(FLATTEN, "flatten", "flatten", 1, K_IMAGE | K_GMAP, K_VECTOR, P_INPLACE | P_OVERWRITE, "x:map",
        "", "$x.flatten(1)")
X(LINEAR, "linear", "linear", 1, K_VECTOR, K_VECTOR, P_PARAMS, "x:map N:int bias:bool=true",
        "gq_linear($out, $x, $weight, $bias, $C, $numel)", "self.$name($x)")
X(SOFTMAX, "softmax", "softmax", 1, K_VECTOR, OUT_SAME, P_INPLACE | P_OVERWRITE | P_KEEPS_ACT,
        "x:map", "gq_softmax($out, $numel)", "F.softmax($x, -1)")
X(ADD, "+", "add", 2, K_IMAGE | K_GMAP | K_VECTOR, OUT_SAME, P_INFIX | P_OVERWRITE | P_PLANEWISE,
        "a:map b:map", "gq_add($out, $x, $y, $numel)", "$x + $y")
/* SPEC §2.2. concat has no C call: its operands' producers write into its slices (plan.c's
 * plan_concat), and emit_c copies those that cannot. dropout is the identity in C. */
X(CONCAT, "concat", "concat", 2, K_IMAGE | K_GMAP, OUT_SAME, P_VARIADIC | P_PLANEWISE, "a:map", "",
        "torch.cat([$xs], 1)")
X(UPSAMPLE, "upsample", "upsample", 1, K_IMAGE | K_GMAP, OUT_SAME, P_PLANEWISE,
        "x:map s:int mode:enum(nearest|bilinear)=nearest",
        "gq_upsample($out, $x, $planes, $h, $w, $s, $bilinear)", "upsample($x, $s, $bilinear)")
X(DROPOUT, "dropout", "dropout", 1, K_IMAGE | K_GMAP | K_VECTOR, OUT_SAME, POINTWISE_,
        "x:map p:float=0.5", "", "orbit_dropout($x, $rate, $orbits, self.training)")

#undef SLIDE_
#undef POINTWISE_
