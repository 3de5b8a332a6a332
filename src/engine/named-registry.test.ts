import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namedRegistry } from './named-registry.ts';

test('a name is registered once; an unknown one says which module registers it', () => {
  const registry = namedRegistry<number>('partition decoder', 'src/pipeline/frame-partitions.ts');
  registry.register('frame', 1);
  assert.equal(registry.get('frame'), 1);
  assert.throws(() => registry.register('frame', 2), /partition decoder 'frame' registered twice/);
  assert.throws(() => registry.get('other'), {
    name: 'DistmlError',
    message:
      /no partition decoder named 'other' in this process \(src\/pipeline\/frame-partitions\.ts registers it; the worker must import it/,
  });
});
