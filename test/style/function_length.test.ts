// Style checks that `npm test` runs over src/: no function longer than 80 lines unless a
// comment "reads better whole" right above it says why (the restructuring issue's rule).
// Unused locals and parameters are caught by the compiler (tsconfig noUnused*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAX_LINES = 80;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Functions (declarations, methods, arrows, function expressions) over MAX_LINES lines. */
function longFunctions(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      const leading = text.slice(Math.max(0, node.getFullStart() - 400), node.getStart(sf));
      const statement = ts.isVariableDeclaration(node.parent) ? node.parent.parent.parent : node;
      const before = text.slice(Math.max(0, statement.getFullStart() - 400), statement.getStart(sf));
      const says = (t: string) => /reads better whole/.test(t.replace(/[\s*/]+/g, ' ')); // comment lines may break the phrase
      const excused = says(leading) || says(before);
      if (lines > MAX_LINES && !excused) {
        const name = (node as ts.FunctionDeclaration).name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : '(anonymous)');
        found.push(`${relative(root, path)}:${start + 1} ${name}: ${lines} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

test(`no function in src/ is longer than ${MAX_LINES} lines without a comment saying why`, () => {
  const long = sourceFiles(join(root, 'src')).flatMap(longFunctions);
  assert.deepEqual(long, [], `functions over ${MAX_LINES} lines:\n${long.join('\n')}`);
});
