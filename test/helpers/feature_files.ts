import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp_dirs.js';

/**
 * Views for the feature tests: `users` (one int64 key, a feature of most
 * types, max_age 1h so an older row reads OUTSIDE_MAX_AGE) and `pairs` (a
 * composite key).
 */
const TEST_VIEWS = `views:
  - name: users
    entities: [{ name: user_id, type: int64 }]
    features:
      - { name: score, type: float32 }
      - { name: visits, type: int64 }
      - { name: active, type: bool }
      - { name: city, type: string }
      - { name: embedding, type: float32_vector, dim: 3 }
    max_age: 1h
  - name: pairs
    entities: [{ name: shop, type: string }, { name: item, type: int64 }]
    features:
      - { name: price, type: float64 }
    max_age: 1h
`;

/** A fresh directory holding the test views file; `file()` writes more files beside it. */
export function featureFiles() {
  const dir = makeTempDir('features-');
  const views = join(dir, 'views.yaml');
  writeFileSync(views, TEST_VIEWS);
  return {
    dir,
    views,
    file(name: string, text: string): string {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}
