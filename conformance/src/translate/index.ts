export { crossCheck, type CrossField, type CrossFieldResult, type CrossResult } from './cross-framework.js';
export { formatCrossTable, isUnexplained } from './format-cross.js';
export { SMALLEST_POSITIVE_EPSILON } from './nearest.js';
export { PORT_TARGETS, type PortTarget } from '@normbridge/port';
