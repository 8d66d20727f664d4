// sa11y: expect(element).toBeAccessible() in every component test.
import { registerSa11yMatcher } from '@sa11y/jest';

registerSa11yMatcher();
