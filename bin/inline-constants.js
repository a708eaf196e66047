// The build's one transform (bin/build.js): every read of a `const` whose value is a number or a
// bigint known at compile time is replaced by that value, in whichever module the constant is
// declared. A walker written `(lo & DESC.VALID) === 0` runs `(lo & 1 /* DESC.VALID */) === 0`.
//
// Why: TypeScript's CommonJS output reads an imported binding as a property of the other module's
// exports object at every use (`descriptor_1.DESC.VALID`: two property loads, each with a map
// check), and through a getter call when an index module re-exports it; V8 folds neither. The
// stage-1 walk took 2.4 times the instructions with its constants read so (npm run
// bench:instructions: 2,399 per walk against 1,011 inlined), which is why the walkers once
// copied some forty imported constants into module locals. ES module output does not fold them
// either (1,426).
//
// What counts as a constant: a top-level `const NAME = <expression>` whose expression is made of
// number and bigint literals, the operators + - * / % ** << >> >>> & | ^ ~ and parentheses, and
// other such constants; and a property `NAME.KEY` of a top-level `const NAME = { KEY: <such an
// expression>, ... } as const` (readonly, so the value cannot change; only plain `KEY: value`
// properties, no spread). Anything else (a call, a `let`, an object without `as const`) is left
// as written and read at run time, which is always correct, only slower.
//
// Scopes are the type checker's: an identifier is inlined only when the checker resolves it to
// such a declaration (through imports and re-exports), so a local that shadows a constant's name
// is left alone. For each file the build records the files of every top-level const it reads (a
// constant or not; with every import or re-export on the way, and what a constant's value was
// computed from), and emits it again when one of them changes (bin/build.js keeps them in
// dist/.constants.json). A function, class or `let` that becomes a constant is inlined into the
// files that read it when they are next emitted; until then they read it at run time.
'use strict'

/**
 * The constants of `program` (whose checker resolves every name): `replacementsIn(sourceFile)`
 * finds the reads to replace in one of its files, and then `sourcesOf(fileName)` lists the files
 * (absolute, as the program names them) those values came from, the file itself excluded.
 */
function createInliner(ts, program) {
  const checker = program.getTypeChecker()
  const K = ts.SyntaxKind
  /** Names declared by a top-level const in any file of the program: only these are looked up. */
  const candidates = new Set()
  for (const sf of program.getSourceFiles()) {
    for (const st of sf.statements) {
      if (!ts.isVariableStatement(st) || (st.declarationList.flags & ts.NodeFlags.Const) === 0) continue
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) candidates.add(d.name.text)
    }
  }
  /** Declaration node -> its value (number, bigint) or null; filled as they are met. */
  const values = new Map()
  /** Declaration node -> files its value depends on. */
  const valueSources = new Map()
  /** Emitted file name -> files it inlined from. */
  const sources = new Map()

  /** The top-level const declaration `node` (an identifier) names, and the files on the way. */
  function resolve(node) {
    let sym = checker.getSymbolAtLocation(node)
    const via = new Set()
    while (sym !== undefined && (sym.flags & ts.SymbolFlags.Alias) !== 0) {
      for (const d of sym.declarations ?? []) via.add(d.getSourceFile().fileName)
      sym = checker.getImmediateAliasedSymbol(sym)
    }
    const d = sym?.valueDeclaration
    if (d === undefined || !ts.isVariableDeclaration(d) || d.initializer === undefined || !ts.isIdentifier(d.name)) return undefined
    const list = d.parent
    if (!ts.isVariableDeclarationList(list) || (list.flags & ts.NodeFlags.Const) === 0) return undefined
    if (!ts.isVariableStatement(list.parent) || !ts.isSourceFile(list.parent.parent)) return undefined
    if (d.name === node) return undefined // the declaration's own name
    via.add(d.getSourceFile().fileName)
    return { decl: d, via }
  }

  /** `{ ... } as const` (possibly parenthesised), or undefined. */
  function constObject(expr) {
    while (ts.isParenthesizedExpression(expr)) expr = expr.expression
    if (!ts.isAsExpression(expr)) return undefined
    const t = expr.type
    if (!ts.isTypeReferenceNode(t) || !ts.isIdentifier(t.typeName) || t.typeName.text !== 'const') return undefined
    let obj = expr.expression
    while (ts.isParenthesizedExpression(obj)) obj = obj.expression
    if (!ts.isObjectLiteralExpression(obj)) return undefined
    return obj.properties.every((p) => ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) ? obj : undefined
  }

  /** The value of a constant declaration (or object property), computed once; null if none. */
  function valueOfDeclaration(key, initializer, deps, visiting) {
    if (values.has(key)) {
      for (const f of valueSources.get(key)) deps.add(f)
      return values.get(key)
    }
    if (visiting.has(key)) return null // a cycle: not a constant
    visiting.add(key)
    const own = new Set([key.getSourceFile().fileName])
    const v = evaluate(initializer, own, visiting)
    visiting.delete(key)
    values.set(key, v)
    valueSources.set(key, own)
    for (const f of own) deps.add(f)
    return v
  }

  /**
   * The value of a reference (an identifier or NAME.KEY), or null. Adds to `deps` the files of
   * every top-level const it leads to, a constant or not: when one changes, what read it may have
   * to be emitted again (a value to inline, or one no longer to inline).
   */
  function valueOfReference(node, deps, visiting) {
    if (ts.isIdentifier(node)) {
      if (!candidates.has(node.text)) return null
      const r = resolve(node)
      if (r === undefined) return null
      for (const f of r.via) deps.add(f)
      return valueOfDeclaration(r.decl, r.decl.initializer, deps, visiting)
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.questionDotToken === undefined) {
      if (!candidates.has(node.expression.text)) return null
      const r = resolve(node.expression)
      if (r === undefined) return null
      for (const f of r.via) deps.add(f)
      const obj = constObject(r.decl.initializer)
      const prop = obj?.properties.findLast((p) => p.name.text === node.name.text)
      return prop === undefined ? null : valueOfDeclaration(prop, prop.initializer, deps, visiting)
    }
    return null
  }

  /** The value of a constant expression, or null. */
  function evaluate(node, deps, visiting) {
    while (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isTypeAssertionExpression(node)) node = node.expression
    if (ts.isNumericLiteral(node)) return Number(node.text.replaceAll('_', ''))
    if (ts.isBigIntLiteral(node)) return BigInt(node.text.slice(0, -1).replaceAll('_', ''))
    if (ts.isPrefixUnaryExpression(node)) {
      const v = evaluate(node.operand, deps, visiting)
      if (v === null) return null
      if (node.operator === K.MinusToken) return -v
      if (node.operator === K.TildeToken) return ~v
      if (node.operator === K.PlusToken && typeof v === 'number') return v
      return null
    }
    if (ts.isBinaryExpression(node)) {
      const a = evaluate(node.left, deps, visiting)
      const b = a === null ? null : evaluate(node.right, deps, visiting)
      if (a === null || b === null || typeof a !== typeof b) return null
      try {
        return binary(node.operatorToken.kind, a, b)
      } catch {
        return null // a bigint division by zero, a bigint >>>: left to run time
      }
    }
    return valueOfReference(node, deps, visiting)
  }

  function binary(op, a, b) {
    switch (op) {
      case K.PlusToken: return a + b
      case K.MinusToken: return a - b
      case K.AsteriskToken: return a * b
      case K.SlashToken: return a / b
      case K.PercentToken: return a % b
      case K.AsteriskAsteriskToken: return a ** b
      case K.LessThanLessThanToken: return a << b
      case K.GreaterThanGreaterThanToken: return a >> b
      case K.GreaterThanGreaterThanGreaterThanToken: return a >>> b
      case K.AmpersandToken: return a & b
      case K.BarToken: return a | b
      case K.CaretToken: return a ^ b
      default: return null
    }
  }

  /** Whether `node` (an identifier or a property access) is read as a value where it stands. */
  function isRead(node) {
    const p = node.parent
    if (p === undefined) return false
    if (ts.isPropertyAccessExpression(p) && p.name === node) return false
    if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isEnumMember(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p)) && p.name === node) return false
    if (ts.isShorthandPropertyAssignment(p) || ts.isImportSpecifier(p) || ts.isExportSpecifier(p) || ts.isImportClause(p) || ts.isNamespaceImport(p) || ts.isExportAssignment(p)) return false
    if (ts.isCallExpression(p) && p.expression === node) return false
    if (ts.isDeleteExpression(p) || ts.isTypeOfExpression(p)) return false
    if (ts.isBinaryExpression(p) && p.left === node && p.operatorToken.kind >= K.FirstAssignment && p.operatorToken.kind <= K.LastAssignment) return false
    if ((ts.isPrefixUnaryExpression(p) || ts.isPostfixUnaryExpression(p)) && (p.operator === K.PlusPlusToken || p.operator === K.MinusMinusToken)) return false
    return true
  }

  /**
   * The reads in `sf` (a file of the program) to replace: `${start}:${end}` of each -> its value and
   * the text it replaces. Also records the files those values came from (sourcesOf).
   */
  function replacementsIn(sf) {
    const found = new Map()
    const deps = new Set()
    const visit = (node) => {
      if (ts.isTypeNode(node) || ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return
      if ((ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) && isRead(node)) {
        const from = new Set()
        const value = valueOfReference(node, from, new Set())
        for (const file of from) if (file !== sf.fileName) deps.add(file)
        if (value !== null && (typeof value === 'bigint' || (Number.isFinite(value) && !Object.is(value, -0)))) {
          found.set(`${node.getStart(sf)}:${node.end}`, { value, text: node.getText(sf) })
          return
        }
      }
      ts.forEachChild(node, visit)
    }
    ts.forEachChild(sf, visit)
    sources.set(sf.fileName, deps)
    return found
  }

  return { replacementsIn, sourcesOf: (fileName) => [...(sources.get(fileName) ?? [])].sort() }
}

/**
 * A `before` transformer that puts each value of `replacements` (replacementsIn's, for a parse of
 * the same text) in place of what it replaces, followed by the replaced text in a comment.
 */
function replacingTransformer(ts, replacements) {
  const K = ts.SyntaxKind
  const literal = (f, v, text) => {
    const negative = v < 0
    const magnitude = negative ? -v : v
    const lit = typeof v === 'bigint' ? f.createBigIntLiteral(`${magnitude}n`) : f.createNumericLiteral(String(magnitude))
    const node = negative ? f.createParenthesizedExpression(f.createPrefixUnaryExpression(K.MinusToken, lit)) : lit
    return ts.addSyntheticTrailingComment(node, K.MultiLineCommentTrivia, ` ${text} `, false)
  }
  return (context) => (sf) => {
    if (replacements.size === 0) return sf
    const f = context.factory
    const visit = (node) => {
      if ((ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) && node.pos >= 0) {
        const r = replacements.get(`${node.getStart(sf)}:${node.end}`)
        if (r !== undefined && node.getText(sf) === r.text) return literal(f, r.value, r.text)
      }
      return ts.visitEachChild(node, visit, context)
    }
    return ts.visitEachChild(sf, visit, context)
  }
}

module.exports = { createInliner, replacingTransformer }
