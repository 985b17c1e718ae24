/* The operator table: one line per op of SPEC §2, included wherever a pass needs a
 * per-op list (the Op enum, names, argument schemas, shape rules, lint, emitters).
 *
 *   X(ID, spelling, input kinds, argument schema)
 *
 * The schema lists the op's arguments in positional order: `name:type` is required,
 * `name:type=default` optional. Types: `map` (the op's first operand, any of the input
 * kinds), `int`, `float`, `bool`, `enum(a|b)`. A default may name an earlier argument
 * (`s:int=k`: the stride defaults to the kernel size, as torch.nn.MaxPool2d).
 * Adding an op: one line here, then one case in check.c (shape), lint.c (geometry),
 * emit_torch.c and emit_c.c; the compiler warns (-Wswitch) where one is missing. */
X(LIFT, "lift", K_IMAGE, "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true")
X(GCONV, "gconv", K_GMAP, "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true")
X(CONV, "conv", K_IMAGE, "x:map C:int k:int s:int=1 p:int=0 d:int=1 bias:bool=true")
X(MAXPOOL, "maxpool", K_IMAGE | K_GMAP, "x:map k:int s:int=k p:int=0")
X(AVGPOOL, "avgpool", K_IMAGE | K_GMAP, "x:map k:int s:int=k p:int=0")
X(BN, "bn", K_IMAGE | K_GMAP, "x:map eps:float=1e-5")
X(RELU, "relu", K_IMAGE | K_GMAP | K_VECTOR, "x:map")
X(SIGMOID, "sigmoid", K_IMAGE | K_GMAP | K_VECTOR, "x:map")
X(TANH, "tanh", K_IMAGE | K_GMAP | K_VECTOR, "x:map")
X(GPOOL, "gpool", K_GMAP, "x:map mode:enum(max|mean)")
X(GLOBAL_AVGPOOL, "global_avgpool", K_IMAGE | K_GMAP, "x:map")
X(GLOBAL_MAXPOOL, "global_maxpool", K_IMAGE | K_GMAP, "x:map")
X(FLATTEN, "flatten", K_IMAGE | K_GMAP, "x:map")
X(LINEAR, "linear", K_VECTOR, "x:map N:int bias:bool=true")
X(SOFTMAX, "softmax", K_VECTOR, "x:map")
X(ADD, "+", K_IMAGE | K_GMAP | K_VECTOR, "a:map b:map")
