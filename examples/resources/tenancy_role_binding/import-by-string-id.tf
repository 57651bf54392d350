import {
  to = tenancy_role_binding.alice
  id = "acme/rb_0123456789abcdef0123"
}
