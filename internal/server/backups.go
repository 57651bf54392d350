package server

// backupRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) backupRoutes() []route { return nil }
