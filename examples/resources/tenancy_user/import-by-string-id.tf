import {
  to = tenancy_user.alice
  id = "acme/alice@example.com" # or "acme/usr_0123456789abcdef0123"
}
