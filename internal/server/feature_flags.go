package server

// featureFlagRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) featureFlagRoutes() []route { return nil }
