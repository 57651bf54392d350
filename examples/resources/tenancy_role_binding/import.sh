# A role binding is imported by its tenant's slug and its binding_id: "<tenant>/<binding_id>".
terraform import tenancy_role_binding.alice acme/rb_0123456789abcdef0123
